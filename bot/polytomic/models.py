"""What Polytomic answers about syncs and their runs, as typed values, and the tolerant parsing
that builds them.

The client (endpoints/) turns each JSON answer into these frozen dataclasses with the parse_*
functions below, and everything downstream (the tracker, the views, the state machine in
bot/operations.py) reads only these, never raw JSON. Parsing is tolerant: any field may be
missing, null or of another type, because Polytomic's own SDK models mark every field optional
and a chatops bot must keep working when a self-hosted deployment answers an older shape. What
cannot be read becomes None (or an empty value), never an exception (the readers are in
parsing.py). Held here: syncs, executions and their status; the caller's identity; the webhook,
whose secret is a `Secret` (secret.py) that no repr shows; and the bits of a list answer
(next_page_token) and a cancel's answer (parse_message). Elsewhere: connections and their lookup
(connections.py), events (events.py), the body of a failed call (error_bodies.py). Imports no
other bot module but parsing.py and secret.py.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from bot.polytomic.parsing import as_bool as _bool
from bot.polytomic.parsing import as_dict as _dict
from bot.polytomic.parsing import as_int as _int
from bot.polytomic.parsing import as_str as _str
from bot.polytomic.parsing import parse_timestamp
from bot.polytomic.secret import Secret, mask_secret

__all__ = [
    "Execution",
    "ExecutionCounts",
    "ExecutionStatus",
    "Identity",
    "Phase",
    "Sync",
    "SyncStatus",
    "Webhook",
    "next_page_token",
    "parse_execution",
    "parse_identity",
    "parse_message",
    "parse_sync",
    "parse_sync_status",
    "parse_timestamp",
    "parse_webhook",
]

# --------------------------------------------------------------------------- results


class Phase(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    CANCELING = "canceling"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


_PHASES: Final[Mapping[str, Phase]] = {
    "created": Phase.PENDING,
    "scheduled": Phase.PENDING,
    "queued": Phase.PENDING,
    "waiting": Phase.PENDING,
    "running": Phase.RUNNING,
    "processing": Phase.RUNNING,
    "canceling": Phase.CANCELING,
    "canceled": Phase.TERMINAL,
    "completed": Phase.TERMINAL,
    "failed": Phase.TERMINAL,
    # Undocumented, but seen in the SDK's enum: a run killed by the platform.
    "interrupted": Phase.TERMINAL,
}


@dataclass(frozen=True)
class ExecutionStatus:
    """The raw status string plus its classification; unknown values count as still active
    so that a new status Polytomic adds can never make the bot report a run as finished."""

    value: str

    @classmethod
    def parse(cls, raw: object) -> ExecutionStatus:
        text = _str(raw)
        return cls(text.strip() if text is not None else "")

    @property
    def phase(self) -> Phase:
        return _PHASES.get(self.value.lower(), Phase.UNKNOWN)

    @property
    def is_terminal(self) -> bool:
        return self.phase is Phase.TERMINAL

    @property
    def is_active(self) -> bool:
        return not self.is_terminal

    def __str__(self) -> str:
        return self.value or "unknown"


@dataclass(frozen=True)
class ExecutionCounts:
    insert: int | None = None
    update: int | None = None
    delete: int | None = None
    upserts: int | None = None
    error: int | None = None
    warnings: int | None = None
    total: int | None = None

    @property
    def rows_written(self) -> int | None:
        """Rows changed in the destination; `total` only when no per-kind count was sent."""
        parts = (self.insert, self.update, self.delete, self.upserts)
        if all(p is None for p in parts):
            return self.total
        return sum(p or 0 for p in parts)


@dataclass(frozen=True)
class Execution:
    id: str | None
    status: ExecutionStatus
    type: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    counts: ExecutionCounts = field(default_factory=ExecutionCounts)
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sync:
    id: str
    name: str | None = None
    active: bool | None = None
    mode: str | None = None
    target_connection_id: str | None = None
    target_object: str | None = None
    schedule_frequency: str | None = None


@dataclass(frozen=True)
class SyncStatus:
    current_execution: Execution | None
    last_execution: Execution | None
    next_execution_time: datetime | None

    @property
    def is_running(self) -> bool:
        return self.current_execution is not None and self.current_execution.status.is_active


@dataclass(frozen=True)
class Identity:
    """GET /api/me. `user_id`/`email`/`role` are only set for user keys; the `is_*` flags say
    which kind of key this is (organization, partner, system)."""

    organization_id: str | None = None
    organization_name: str | None = None
    user_id: str | None = None
    email: str | None = None
    role: str | None = None
    is_user: bool | None = None
    is_organization: bool | None = None
    is_partner: bool | None = None
    is_system: bool | None = None


@dataclass(frozen=True)
class Webhook:
    """The organization's webhook (there is one per organization). Polytomic's reads return
    the secret; it is held as a Secret, so a repr, a log line or an f-string shows
    `<redacted>`. `secret_matches` compares in constant time; `masked_secret` is for display."""

    id: str
    endpoint: str | None = None
    secret: Secret | None = None
    disabled: bool | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    organization_id: str | None = None
    created_at: datetime | None = None

    def secret_matches(self, candidate: str) -> bool:
        return self.secret is not None and self.secret.matches(candidate)

    @property
    def masked_secret(self) -> str:
        return mask_secret(self.secret)


# --------------------------------------------------------------------------- tolerant parsing


def _errors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    out: list[str] = []
    for item in value:
        # A list or an object without a message is left out: its repr would say nothing to a
        # person, and a deeply nested one could exhaust the stack just being printed.
        text = _str(_dict(item).get("message")) if isinstance(item, dict) else _str(item)
        if text is not None:
            out.append(text)
    return tuple(out)


def _counts(value: object) -> ExecutionCounts:
    raw = _dict(value)
    return ExecutionCounts(
        insert=_int(raw.get("insert")),
        update=_int(raw.get("update")),
        delete=_int(raw.get("delete")),
        upserts=_int(raw.get("upserts")),
        error=_int(raw.get("error")),
        warnings=_int(raw.get("warnings")),
        total=_int(raw.get("total")),
    )


def parse_execution(value: object, *, default_id: str | None = None) -> Execution:
    raw = _dict(value)
    return Execution(
        id=_str(raw.get("id")) or default_id,
        status=ExecutionStatus.parse(raw.get("status")),
        type=_str(raw.get("type")),
        created_at=parse_timestamp(raw.get("created_at")),
        started_at=parse_timestamp(raw.get("started_at")),
        completed_at=parse_timestamp(raw.get("completed_at")),
        counts=_counts(raw.get("counts")),
        errors=_errors(raw.get("errors")),
    )


def _optional_execution(value: object) -> Execution | None:
    # An empty object is what some serializers send for "no execution".
    return parse_execution(value) if isinstance(value, dict) and value else None


def parse_sync(value: object, *, default_id: str = "") -> Sync:
    """Both shapes: get-sync nests `target{connection_id, object}`, list items are flat."""
    raw = _dict(value)
    target = _dict(raw.get("target"))
    return Sync(
        id=_str(raw.get("id")) or default_id,
        name=_str(raw.get("name")),
        active=_bool(raw.get("active")),
        mode=_str(raw.get("mode")),
        target_connection_id=_str(target.get("connection_id")) or _str(raw.get("target_connection_id")),
        target_object=_str(target.get("object")) or _str(raw.get("target_object")),
        schedule_frequency=_str(_dict(raw.get("schedule")).get("frequency")),
    )


def parse_sync_status(value: object) -> SyncStatus:
    raw = _dict(value)
    return SyncStatus(
        current_execution=_optional_execution(raw.get("current_execution")),
        last_execution=_optional_execution(raw.get("last_execution")),
        next_execution_time=parse_timestamp(raw.get("next_execution_time")),
    )


def parse_identity(value: object) -> Identity:
    """GET /api/me's `data`."""
    raw = _dict(value)
    return Identity(
        organization_id=_str(raw.get("organization_id")),
        organization_name=_str(raw.get("organization_name")),
        user_id=_str(raw.get("id")),
        email=_str(raw.get("email")),
        role=_str(raw.get("role")),
        is_user=_bool(raw.get("is_user")),
        is_organization=_bool(raw.get("is_organization")),
        is_partner=_bool(raw.get("is_partner")),
        is_system=_bool(raw.get("is_system")),
    )


def parse_webhook(value: object, *, default_id: str = "") -> Webhook:
    raw = _dict(value)
    # The secret as sent (not cleaned): it keys the signature check, character for character.
    secret = raw.get("secret") if isinstance(raw.get("secret"), str) else None
    return Webhook(
        id=_str(raw.get("id")) or default_id,
        endpoint=_str(raw.get("endpoint")),
        secret=Secret(secret) if secret else None,
        disabled=_bool(raw.get("disabled")),
        disabled_at=parse_timestamp(raw.get("disabled_at")),
        disabled_reason=_str(raw.get("disabled_reason")) or None,
        organization_id=_str(raw.get("organization_id")),
        created_at=parse_timestamp(raw.get("created_at")),
    )


def next_page_token(body: Mapping[str, Any]) -> str | None:
    """A list answer's `pagination.next_page_token`; None on the last page."""
    token = _str(_dict(body.get("pagination")).get("next_page_token"))
    return token or None


def parse_message(value: object) -> str:
    """The `message` of an answer that only says something (a cancel's `data`); '' when absent."""
    return _str(_dict(value).get("message")) or ""
