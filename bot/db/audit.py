"""The audit trail's store: every permission decision and every outcome, one row each.

`insert` is the one statement that writes an audit row. The other stores call it inside their
own transactions, so that a change and its audit row commit together (an operation's outcome,
a grant changed, a click that won); `record` writes a row on its own (a decision that changes
nothing else), and `recent` reads the trail for `/polytomic audit`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, Unpack

from sqlalchemy import Connection, insert, select

from bot.db import direct
from bot.db.engine import Database
from bot.db.models import AUDIT_EVENTS, AuditEvent, utcnow

if TYPE_CHECKING:  # only read for its fields; bot.permissions reads grants through bot.db
    from bot.permissions import Decision


class Event(TypedDict):
    actor: str  # Slack user ID, "cli:<login>" or "bot"
    action: str
    sync_id: NotRequired[str | None]
    decision: NotRequired[Decision | None]
    outcome: NotRequired[str | None]
    operation_id: NotRequired[int | None]
    channel_id: NotRequired[str | None]


def _values(at: datetime, event: Event) -> dict[str, Any]:
    decision = event.get("decision")
    return {
        "at": at,
        "actor": event["actor"],
        "action": event["action"],
        "sync_id": event.get("sync_id"),
        "decision": None if decision is None else ("allowed" if decision.allowed else "denied"),
        "rule": None if decision is None else decision.rule,
        "outcome": event.get("outcome"),
        "operation_id": event.get("operation_id"),
        "channel_id": event.get("channel_id"),
    }


# Built once: the values go as parameters, so the compiled statement is cached and reused.
_INSERT = insert(AUDIT_EVENTS)


def insert_event(connection: Connection, at: datetime, **event: Unpack[Event]) -> None:
    """One audit row, in the caller's transaction."""
    direct.write(connection, _INSERT, _values(at, event))


def record(db: Database, *, at: datetime | None = None, **event: Unpack[Event]) -> None:
    """One audit row, in a transaction of its own."""
    with db.core() as connection:
        insert_event(connection, at or utcnow(), **event)


def recent(db: Database, *, sync_id: str | None = None, limit: int = 20) -> list[AuditEvent]:
    """The newest rows first: one sync's, or everyone's."""
    query = select(AuditEvent)
    if sync_id is not None:
        query = query.where(AuditEvent.sync_id == sync_id)
    with db.read() as session:
        return list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))
