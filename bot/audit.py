"""The audit trail: every permission decision and every outcome, one row each."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from bot.db.models import AUDIT_EVENTS, AuditEvent, utcnow
from bot.permissions import Decision


class Event(TypedDict):
    actor: str  # Slack user ID, "cli:<login>" or "bot"
    action: str
    sync_id: NotRequired[str | None]
    decision: NotRequired[Decision | None]
    outcome: NotRequired[str | None]
    operation_id: NotRequired[int | None]
    channel_id: NotRequired[str | None]


def _values(event: Event) -> dict[str, Any]:
    decision = event.get("decision")
    return {
        "at": utcnow(),
        "actor": event["actor"],
        "action": event["action"],
        "sync_id": event.get("sync_id"),
        "decision": None if decision is None else ("allowed" if decision.allowed else "denied"),
        "rule": None if decision is None else decision.rule,
        "outcome": event.get("outcome"),
        "operation_id": event.get("operation_id"),
        "channel_id": event.get("channel_id"),
    }


def record(session: Session, **event: Unpack[Event]) -> AuditEvent:
    """Add one audit row to the session's transaction."""
    row = AuditEvent(**_values(event))
    session.add(row)
    return row


def insert_row(connection: Connection, **event: Unpack[Event]) -> None:
    """The same row through a Core connection: the tracker's writes skip the ORM."""
    connection.execute(insert(AUDIT_EVENTS).values(**_values(event)))


def recent(session: Session, *, sync_id: str | None = None, limit: int = 20) -> list[AuditEvent]:
    query = select(AuditEvent)
    if sync_id is not None:
        query = query.where(AuditEvent.sync_id == sync_id)
    return list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))
