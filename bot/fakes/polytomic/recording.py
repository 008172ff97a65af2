"""What the fake Polytomic records and injects: every request as it saw it (RecordedRequest),
injected faults and latencies, and the answers kept for idempotent replay.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = ["Fault", "Latency", "RecordedRequest", "Stored"]


@dataclass
class RecordedRequest:
    """One request as the fake saw it. `path` is the raw (still percent-encoded) path."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float
    status: int | None = None  # what the fake answered; None: not yet, or connection dropped
    answered: bool = False  # True once the answer (or the drop) is decided
    answered_at: float | None = None  # time.time() then: with `time`, how long it was in flight
    replay: bool = False  # answered from the idempotency store: no effect
    fault: bool = False  # answered (or dropped) by injected fault
    acted_on: str | None = None  # cancel/start: the execution it hit or created
    query_all: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def idempotency_key(self) -> str | None:
        return self.header("Idempotency-Key")

    @property
    def segments(self) -> list[str]:
        """Decoded path segments: /api/syncs/a%2Fb -> ['api', 'syncs', 'a/b']."""
        return [unquote(s) for s in self.path.split("/")[1:]]

    @property
    def is_cancel(self) -> bool:
        seg = self.segments
        return (
            self.method == "POST"
            and seg[:2] == ["api", "syncs"]
            and (
                (len(seg) == 4 and seg[3] == "cancel")
                or (len(seg) == 6 and seg[3:6:2] == ["executions", "cancel"])
            )
        )

    @property
    def effective(self) -> bool:
        """Processed by the fake Polytomic (200), not a replay, not an injected fault."""
        return self.status == 200 and not self.replay and not self.fault


@dataclass
class Fault:
    """An injected failure for the next `times` matching requests (FakePolytomic.inject)."""

    method: str | None
    pattern: re.Pattern[str]
    times: int
    status: int | None = None  # None: drop the connection
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    drip: float = 0.0  # > 0: the answer goes out one byte every `drip` seconds

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in (None, method) and bool(self.pattern.search(path))


@dataclass
class Latency:
    """Extra time before matching answers (FakePolytomic.set_latency)."""

    method: str | None
    pattern: re.Pattern[str]
    seconds: float


@dataclass
class Stored:
    """The first answer to an Idempotency-Key, replayed to every request that repeats it."""

    method: str
    path: str
    done: bool = False  # False while the first request is still being processed
    status: int = 0
    body: dict[str, Any] | None = None
