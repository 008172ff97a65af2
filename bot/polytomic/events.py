"""Polytomic's events, as typed values.

An event (GET /api/events, or a webhook delivery) is `{id, type, created_at, organization_id,
event: {...}}`. `Event` keeps those, the raw `event` payload (read-only), and a typed view of
it: `SyncEventPayload` for the model-sync types (`sync.*`), `BulkSyncEventPayload` for the bulk
ones (`bulk_sync.*`). The fields are those of the official SDK's models (polytomic 25.9.10,
`EventingSync*Event`, `EventingBulkSync*Event`); the docs' bulk example says `name` where the
SDK says `sync_name`, so both are read. Parsing is tolerant like models.py: any field may be
missing or null, and an event type this module does not know is kept as its string.
`event_key` is what identifies an event across pages and sources.

Reading a whole time window of them is event_window.py. Imports no other bot module but
models.py and parsing.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from bot.polytomic.models import ExecutionStatus
from bot.polytomic.parsing import as_dict, as_int, as_str, as_str_tuple, parse_timestamp

__all__ = [
    "BULK_SYNC_EVENT_TYPES",
    "EVENT_TYPES",
    "MAX_EVENTS_LIMIT",
    "SYNC_EVENT_TYPES",
    "TERMINAL_OUTCOMES",
    "BulkSyncEventPayload",
    "Event",
    "Outcome",
    "SyncEventPayload",
    "event_key",
    "parse_event",
    "parse_events",
]

SYNC_EVENT_TYPES: Final = (
    "sync.running",
    "sync.completed",
    "sync.completed_with_errors",
    "sync.failed",
    "sync.canceled",
)
# Polytomic spells the bulk one `completed_with_error`, singular.
BULK_SYNC_EVENT_TYPES: Final = (
    "bulk_sync.running",
    "bulk_sync.completed",
    "bulk_sync.completed_with_error",
    "bulk_sync.failed",
    "bulk_sync.canceled",
)
EVENT_TYPES: Final = SYNC_EVENT_TYPES + BULK_SYNC_EVENT_TYPES
MAX_EVENTS_LIMIT: Final = 100  # GET /api/events: limit 1-100 (default 10)

Outcome = Literal["running", "completed", "completed_with_errors", "failed", "canceled"]
TERMINAL_OUTCOMES: Final[frozenset[Outcome]] = frozenset(
    {"completed", "completed_with_errors", "failed", "canceled"}
)
_OUTCOMES: Final[Mapping[str, Outcome]] = {
    "running": "running",
    "completed": "completed",
    "completed_with_errors": "completed_with_errors",
    "completed_with_error": "completed_with_errors",
    "failed": "failed",
    "canceled": "canceled",
}
# The execution status an outcome means: completed_with_errors is a completed run.
_STATUS_OF: Final[Mapping[Outcome, str]] = {
    "running": "running",
    "completed": "completed",
    "completed_with_errors": "completed",
    "failed": "failed",
    "canceled": "canceled",
}


# --------------------------------------------------------------------------- payloads


@dataclass(frozen=True)
class SyncEventPayload:
    """The `event` of a model-sync event (sync.*). Which fields are set depends on the type:
    `status` on canceled and completed; `error` on failed and completed_with_errors;
    `number_of_errors`/`number_of_warnings` on completed_with_errors; the counts, `trigger`
    and `logs_url` on completed."""

    sync_id: str | None = None
    sync_name: str | None = None
    execution_id: str | None = None
    organization_id: str | None = None
    target_connection_id: str | None = None
    status: ExecutionStatus | None = None
    error: str | None = None
    number_of_errors: int | None = None
    number_of_warnings: int | None = None
    record_count: int | None = None
    inserted_count: int | None = None
    updated_count: int | None = None
    upserted_count: int | None = None
    error_count: int | None = None
    warning_count: int | None = None
    trigger: str | None = None
    logs_url: str | None = None
    schedule_frequency: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def rows_written(self) -> int | None:
        """Rows changed in the destination; `record_count` only when no per-kind count came."""
        parts = (self.inserted_count, self.updated_count, self.upserted_count)
        if all(p is None for p in parts):
            return self.record_count
        return sum(p or 0 for p in parts)


@dataclass(frozen=True)
class BulkSyncEventPayload:
    """The `event` of a bulk-sync event (bulk_sync.*)."""

    sync_id: str | None = None
    sync_name: str | None = None
    execution_id: str | None = None
    organization_id: str | None = None
    source_connection_id: str | None = None
    destination_connection_id: str | None = None
    error: str | None = None
    trigger_source: str | None = None
    schedule_frequency: str | None = None


def _status(value: object) -> ExecutionStatus | None:
    text = as_str(value)
    return ExecutionStatus.parse(text) if text else None


def _sync_payload(raw: Mapping[str, Any]) -> SyncEventPayload:
    return SyncEventPayload(
        sync_id=as_str(raw.get("sync_id")),
        sync_name=as_str(raw.get("sync_name")) or as_str(raw.get("name")),
        execution_id=as_str(raw.get("execution_id")),
        organization_id=as_str(raw.get("organization_id")),
        target_connection_id=as_str(raw.get("target_connection_id")),
        status=_status(raw.get("status")),
        error=as_str(raw.get("error")) or None,
        number_of_errors=as_int(raw.get("number_of_errors")),
        number_of_warnings=as_int(raw.get("number_of_warnings")),
        record_count=as_int(raw.get("record_count")),
        inserted_count=as_int(raw.get("inserted_count")),
        updated_count=as_int(raw.get("updated_count")),
        upserted_count=as_int(raw.get("upserted_count")),
        error_count=as_int(raw.get("error_count")),
        warning_count=as_int(raw.get("warning_count")),
        trigger=as_str(raw.get("trigger")),
        logs_url=as_str(raw.get("logs_url")) or None,
        schedule_frequency=as_str(as_dict(raw.get("schedule")).get("frequency")),
        warnings=as_str_tuple(raw.get("warnings")),
    )


def _bulk_payload(raw: Mapping[str, Any]) -> BulkSyncEventPayload:
    return BulkSyncEventPayload(
        sync_id=as_str(raw.get("sync_id")),
        sync_name=as_str(raw.get("sync_name")) or as_str(raw.get("name")),
        execution_id=as_str(raw.get("execution_id")),
        organization_id=as_str(raw.get("organization_id")),
        source_connection_id=as_str(raw.get("source_connection_id")),
        destination_connection_id=as_str(raw.get("destination_connection_id")),
        error=as_str(raw.get("error")) or None,
        trigger_source=as_str(raw.get("trigger_source")),
        schedule_frequency=as_str(as_dict(raw.get("schedule")).get("frequency")),
    )


# --------------------------------------------------------------------------- the event


def _frozen(value: Any) -> Any:
    """A read-only deep copy: nobody downstream can change what Polytomic sent."""
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class Event:
    """One Polytomic event. `type` is the raw type string ('' when absent), kept even when
    unknown; `sync` / `bulk_sync` is the typed payload for the model-sync / bulk-sync types
    (None otherwise); `payload` is the raw `event` object, read-only."""

    id: str | None
    type: str
    created_at: datetime | None = None
    organization_id: str | None = None
    sync: SyncEventPayload | None = None
    bulk_sync: BulkSyncEventPayload | None = None
    payload: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    @property
    def family(self) -> Literal["sync", "bulk_sync"] | None:
        if self.type.startswith("sync."):
            return "sync"
        if self.type.startswith("bulk_sync."):
            return "bulk_sync"
        return None

    @property
    def known(self) -> bool:
        return self.type in EVENT_TYPES

    @property
    def outcome(self) -> Outcome | None:
        """What the run did: running, completed, completed_with_errors (bulk's singular
        spelling folded in), failed or canceled; None for a type this module does not know."""
        if self.family is None:
            return None
        return _OUTCOMES.get(self.type.partition(".")[2])

    @property
    def is_terminal(self) -> bool:
        return self.outcome in TERMINAL_OUTCOMES

    @property
    def execution_status(self) -> ExecutionStatus | None:
        """The execution's status once this event happened (completed_with_errors ->
        completed); None for an unknown type."""
        outcome = self.outcome
        return ExecutionStatus(_STATUS_OF[outcome]) if outcome else None

    @property
    def sync_id(self) -> str | None:
        body = self.sync or self.bulk_sync
        return body.sync_id if body else as_str(self.payload.get("sync_id"))

    @property
    def execution_id(self) -> str | None:
        body = self.sync or self.bulk_sync
        return body.execution_id if body else as_str(self.payload.get("execution_id"))

    @property
    def sync_name(self) -> str | None:
        body = self.sync or self.bulk_sync
        return body.sync_name if body else None

    @property
    def error(self) -> str | None:
        body = self.sync or self.bulk_sync
        return body.error if body else None

    def as_json(self) -> dict[str, Any]:
        """The event as plain JSON values (for storing one that was polled): the API's shape,
        created_at in RFC 3339 UTC."""
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z") if self.created_at else None,
            "organization_id": self.organization_id,
            "event": _plain(self.payload),
        }


def parse_event(value: object) -> Event:
    """One event object (an item of GET /api/events, or a delivery's body), tolerantly."""
    raw = as_dict(value)
    type_ = (as_str(raw.get("type")) or "").strip()
    body = as_dict(raw.get("event"))
    family = "sync" if type_.startswith("sync.") else "bulk_sync" if type_.startswith("bulk_sync.") else None
    return Event(
        id=as_str(raw.get("id")) or None,
        type=type_,
        created_at=parse_timestamp(raw.get("created_at")),
        organization_id=as_str(raw.get("organization_id")) or as_str(body.get("organization_id")),
        sync=_sync_payload(body) if family == "sync" else None,
        bulk_sync=_bulk_payload(body) if family == "bulk_sync" else None,
        payload=_frozen(body),
    )


def parse_events(value: object) -> list[Event]:
    """GET /api/events' `data`: a list, or null when there are none. Items that are not
    objects are dropped."""
    if not isinstance(value, list):
        return []
    return [parse_event(item) for item in value if isinstance(item, dict)]


def event_key(event: Event) -> str:
    """What identifies an event across pages and sources: its id, else a digest of what it
    says (an event without an id still deduplicates against itself)."""
    if event.id:
        return event.id
    said = {
        "type": event.type,
        "created_at": event.created_at.isoformat() if event.created_at else None,
        "payload": _plain(event.payload),
    }
    text = json.dumps(said, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
