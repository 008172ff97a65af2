"""Grants in the database: add, remove, list. Used by the Slack commands and the CLI alike."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.commands import Subject
from bot.db.engine import Database
from bot.db.models import Grant, utcnow
from bot.permissions import Rule


def add_grant(db: Database, subject: Subject, action: str, scope: str, granted_by: str) -> bool:
    """True when the grant was created; False when it already existed (the unique key decides)."""
    try:
        with db.transaction() as session:
            session.add(
                Grant(
                    subject_kind=subject.kind,
                    subject_id=subject.id,
                    action=action,
                    scope=scope,
                    granted_by=granted_by,
                    granted_at=utcnow(),
                )
            )
    except IntegrityError:
        return False
    return True


def remove_grant(db: Database, subject: Subject, action: str, scope: str) -> bool:
    with db.transaction() as session:
        result = session.execute(
            delete(Grant).where(
                Grant.subject_kind == subject.kind,
                Grant.subject_id == subject.id,
                Grant.action == action,
                Grant.scope == scope,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def list_rules(db: Database) -> list[Rule]:
    with db.read() as session:
        grants = session.scalars(select(Grant).order_by(Grant.scope, Grant.action, Grant.id))
        return [Rule.of(g) for g in grants]
