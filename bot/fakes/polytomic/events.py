"""The fake Polytomic's events: the log GET /api/events reads, and the payloads Polytomic puts
in model-sync events.

Shapes follow the official SDK (polytomic 25.9.10: `Event`, `EventingSync*Event`): an event
is `{id, type, created_at, organization_id, event}`; which payload fields are set depends on
the type. The log keeps events for `retention` seconds (Polytomic: 48 hours) and at most
`max_events` of them, so a long-running demo stays small. Selection follows the SDK's
description of the filters: `starting_after` / `ending_before` are strict, `limit` caps the
answer, and the sort order, which Polytomic does not document, is the caller's to choose
(state.py exposes it as FakePolytomic.events_order).
"""

from __future__ import annotations

import collections
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from bot.fakes.polytomic.common import rfc3339, wall_datetime

__all__ = [
    "BULK_SYNC_EVENT_TYPES",
    "EVENT_TYPES",
    "SYNC_EVENT_TYPES",
    "EventLog",
    "EventsOrder",
    "StoredEvent",
    "model_sync_payload",
    "new_event",
]

SYNC_EVENT_TYPES: Final = (
    "sync.running",
    "sync.completed",
    "sync.completed_with_errors",
    "sync.failed",
    "sync.canceled",
)
BULK_SYNC_EVENT_TYPES: Final = (
    "bulk_sync.running",
    "bulk_sync.completed",
    "bulk_sync.completed_with_error",  # singular, as Polytomic spells it
    "bulk_sync.failed",
    "bulk_sync.canceled",
)
EVENT_TYPES: Final = SYNC_EVENT_TYPES + BULK_SYNC_EVENT_TYPES

EventsOrder = Literal["ascending", "descending"]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


@dataclass(frozen=True)
class StoredEvent:
    """One event as the log keeps it: `ns` (nanoseconds since the epoch of its created_at)
    is what the time filters compare, `seq` breaks ties in the order it was emitted."""

    ns: int
    seq: int
    wall: float
    body: dict[str, Any]


def new_event(type_: str, payload: dict[str, Any], *, organization_id: str, wall: float) -> dict[str, Any]:
    """An event object as GET /api/events lists it and a webhook delivery carries it."""
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "created_at": rfc3339(wall),
        "organization_id": organization_id,
        "event": payload,
    }


def model_sync_payload(
    type_: str,
    *,
    organization_id: str,
    sync_id: str,
    sync_name: str,
    target_connection_id: str,
    frequency: str,
    execution: dict[str, Any],
) -> dict[str, Any]:
    """The `event` of a sync.* event for `execution` (its GET .../executions/{id} JSON): the
    ids always; per type, what the SDK's model for that type carries."""
    payload: dict[str, Any] = {
        "execution_id": execution["id"],
        "organization_id": organization_id,
        "sync_id": sync_id,
        "sync_name": sync_name,
        "target_connection_id": target_connection_id,
    }
    errors: list[str] = list(execution.get("errors") or [])
    counts: dict[str, int] = execution.get("counts") or {}
    if type_ == "sync.canceled":
        payload["status"] = "canceled"
    elif type_ == "sync.failed":
        payload["error"] = "; ".join(errors) or "Sync failed"
    elif type_ == "sync.completed_with_errors":
        payload["error"] = "; ".join(errors)
        payload["number_of_errors"] = len(errors)
        payload["number_of_warnings"] = counts.get("warnings", 0)
    elif type_ == "sync.completed":
        payload.update(
            status="completed",
            record_count=counts.get("total", 0),
            inserted_count=counts.get("insert", 0),
            updated_count=counts.get("update", 0),
            upserted_count=counts.get("upserts", 0),
            error_count=counts.get("error", 0),
            warning_count=counts.get("warnings", 0),
            trigger=execution.get("type") or "manual",
            schedule={"frequency": frequency},
        )
    return payload


class EventLog:
    """Events in the order they were emitted (which is created_at order: the server stamps
    them as it emits them), pruned by age and count. Not thread-safe: the server's lock."""

    def __init__(self, *, retention: float, max_events: int) -> None:
        self.retention = retention
        self.max_events = max_events
        self._events: collections.deque[StoredEvent] = collections.deque()
        self._seq = 0

    def __len__(self) -> int:
        return len(self._events)

    def append(self, body: dict[str, Any], wall: float) -> None:
        self._seq += 1
        moment = wall_datetime(wall)  # what created_at says, to the microsecond
        ns = (moment - _EPOCH) // _MICROSECOND * 1000
        self._events.append(StoredEvent(ns, self._seq, wall, body))
        self.prune(wall)

    def prune(self, now_wall: float) -> None:
        while self._events and (
            len(self._events) > self.max_events or self._events[0].wall < now_wall - self.retention
        ):
            self._events.popleft()

    def all(self) -> list[dict[str, Any]]:
        return [e.body for e in self._events]

    def select(
        self,
        *,
        type_: str | None,
        after_ns: int | None,
        before_ns: int | None,
        limit: int,
        order: EventsOrder,
    ) -> list[dict[str, Any]]:
        """The first `limit` events in `order` that match (times strictly after/before)."""
        chosen = [
            e
            for e in self._events
            if (type_ is None or e.body["type"] == type_)
            and (after_ns is None or e.ns > after_ns)
            and (before_ns is None or e.ns < before_ns)
        ]
        chosen.sort(key=lambda e: (e.ns, e.seq), reverse=order == "descending")
        return [e.body for e in chosen[:limit]]
