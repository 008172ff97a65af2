"""SyncNames: a short cache of sync names (sync ID → name), so that a cancellation need not ask
Polytomic for a name it was just told: by an event (which carries `sync_name`), by the answer to
the command that offered the cancel, or by an earlier read. A name only labels messages, so a
stale one for a few minutes costs nothing but a label; entries expire after `ttl` seconds and
the cache holds at most `size` of them. Thread-safe; imports no other bot module.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["SyncNames"]


class SyncNames:
    def __init__(
        self, *, ttl: float = 300.0, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._names: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def put(self, sync_id: str, name: str) -> None:
        with self._lock:
            self._names.pop(sync_id, None)
            self._names[sync_id] = (name, self._clock() + self.ttl)
            while len(self._names) > self.size:
                self._names.popitem(last=False)

    def get(self, sync_id: str) -> str | None:
        """The name (possibly ""), or None when it is not known or too old."""
        with self._lock:
            entry = self._names.get(sync_id)
            if entry is None:
                return None
            if entry[1] < self._clock():
                del self._names[sync_id]
                return None
            return entry[0]
