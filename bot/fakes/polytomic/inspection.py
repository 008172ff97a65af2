"""What the fake Polytomic saw, for tests to assert on: every recorded request, those to a path,
the cancels and how many Polytomic really processed (`effective_cancels`: neither a replay nor
a fault), and waiting for requests or for any condition.

The records themselves are RecordedRequest (recording.py), appended by server.py as each
request arrives and completed when it is answered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bot.fakes.polytomic.recording import RecordedRequest
from bot.fakes.polytomic.state import PolytomicState

__all__ = ["Inspection"]


class Inspection(PolytomicState):
    """Recorded requests and waiting (FakePolytomic's inspection methods)."""

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def requests_to(self, method: str | None, path_regex: str) -> list[RecordedRequest]:
        """Requests whose method matches (None: any) and raw path matches (re.search)."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self._requests if method in (None, r.method) and pattern.search(r.path)]

    def cancel_requests(self, sync_id: str | None = None) -> list[RecordedRequest]:
        """Every POST to either cancel endpoint (all attempts, faults and replays included)."""
        with self._lock:
            return [
                r for r in self._requests if r.is_cancel and (sync_id is None or r.segments[2] == sync_id)
            ]

    def effective_cancels(self, sync_id: str | None = None) -> int:
        """Cancels Polytomic processed: answered 200, neither an idempotent replay nor a fault."""
        return sum(1 for r in self.cancel_requests(sync_id) if r.effective)

    def wait_for_requests(
        self,
        method: str | None,
        path_regex: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        answered: bool = True,
    ) -> list[RecordedRequest]:
        """Block until `count` matching requests arrived (and were answered); TimeoutError else."""
        pattern = re.compile(path_regex)

        def matching() -> list[RecordedRequest]:
            return [
                r
                for r in self._requests
                if method in (None, r.method) and pattern.search(r.path) and (r.answered or not answered)
            ]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise TimeoutError(
                    f"{len(matching())}/{count} requests to {method} {path_regex} after {timeout}s"
                )
            return matching()

    def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, interval: float = 0.02
    ) -> None:
        """Poll `predicate` (e.g. lambda: run.status == 'canceled') until true; TimeoutError else."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)
