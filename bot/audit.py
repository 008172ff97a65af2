"""The audit trail: every permission decision and every outcome, one row each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent, utcnow
from bot.permissions import Decision


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    sync_id: str | None = None,
    decision: Decision | None = None,
    outcome: str | None = None,
    operation_id: int | None = None,
    channel_id: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        sync_id=sync_id,
        decision=None if decision is None else ("allowed" if decision.allowed else "denied"),
        rule=None if decision is None else decision.rule,
        outcome=outcome,
        operation_id=operation_id,
        channel_id=channel_id,
    )
    session.add(event)
    return event


def recent(session: Session, *, sync_id: str | None = None, limit: int = 20) -> list[AuditEvent]:
    query = select(AuditEvent)
    if sync_id is not None:
        query = query.where(AuditEvent.sync_id == sync_id)
    return list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))
