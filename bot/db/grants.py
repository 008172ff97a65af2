"""The grants' store: change a grant (with its audit row), and read the grants a decision needs.

`change` is the one way a grant is added or removed, for `/polytomic grant|revoke` and the
CLI alike: the grant and its audit row commit in one transaction, so the trail never misses a
change nor records one that did not happen. The unique key on (subject, action, scope) decides
whether an add changed anything, so two admins granting the same thing at once make one row.

The reads return rows; `bot.permissions` turns them into rules and decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from bot.commands import Subject
from bot.db import bounds
from bot.db.audit import insert_event
from bot.db.engine import Database
from bot.db.models import GRANTS, Grant, utcnow

Change = Literal["grant", "revoke"]


def change(
    db: Database,
    verb: Change,
    subject: Subject,
    action: str,
    scope: str,
    *,
    actor: str,
    channel_id: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Grant or revoke `action` on `scope` (a sync ID or "*") for `subject`, and audit it as
    done by `actor`. True when a row was added or removed; False when there was nothing to do
    (already granted, or no such grant), which is audited too."""
    at = at or utcnow()
    with db.core() as connection:
        if verb == "grant":
            changed = _add(connection, subject, action, scope, granted_by=actor, at=at)
        else:
            changed = _remove(connection, subject, action, scope)
        insert_event(
            connection,
            at,
            actor=actor,
            action=verb,
            sync_id=None if scope == "*" else scope,
            outcome=f"{subject.kind} {subject.id} {action} {scope}: {'changed' if changed else 'unchanged'}",
            channel_id=channel_id,
        )
    return changed


def add_grant(db: Database, subject: Subject, action: str, scope: str, granted_by: str) -> bool:
    """`change(db, "grant", …)` by `granted_by`: for bootstrapping benchmarks and tests."""
    return change(db, "grant", subject, action, scope, actor=granted_by)


def _add(
    connection: Connection, subject: Subject, action: str, scope: str, *, granted_by: str, at: datetime
) -> bool:
    try:
        # A savepoint: a duplicate must not abort the transaction that still writes the audit row.
        with connection.begin_nested():
            connection.execute(
                insert(GRANTS).values(
                    subject_kind=subject.kind,
                    subject_id=subject.id,
                    action=action,
                    scope=scope,
                    granted_by=granted_by,
                    granted_at=at,
                )
            )
    except IntegrityError:
        return False
    return True


def _remove(connection: Connection, subject: Subject, action: str, scope: str) -> bool:
    result = connection.execute(
        delete(GRANTS).where(
            GRANTS.c.subject_kind == subject.kind,
            GRANTS.c.subject_id == subject.id,
            GRANTS.c.action == action,
            GRANTS.c.scope == scope,
        )
    )
    return bool(result.rowcount)


# Every permission check runs it (each confirm click's pass does): built once, read with Core.
_GRANTS_FOR = (
    select(GRANTS)
    .where(
        GRANTS.c.scope.in_(bindparam("scopes", expanding=True)),
        GRANTS.c.action.in_(bindparam("actions", expanding=True)),
    )
    .order_by(GRANTS.c.id)
)


def grants_for(db: Database, actions: Sequence[str], scopes: Sequence[str]) -> list[Grant]:
    """The grants of any of `actions` on any of `scopes`, oldest first (detached rows)."""
    with bounds.window(bounds.TRANSACTION_SECONDS), db.read_engine.connect() as conn:
        rows = conn.execute(_GRANTS_FOR, {"scopes": list(scopes), "actions": list(actions)}).all()
    return [Grant(**row._mapping) for row in rows]


def grants_of(db: Database, actions: Sequence[str]) -> list[Grant]:
    """The grants of any of `actions`, on any scope, oldest first (one read for many decisions:
    bot.permissions.Snapshot)."""
    query = select(Grant).where(Grant.action.in_(actions)).order_by(Grant.id)
    with db.read() as session:
        return list(session.scalars(query))


def every_grant(db: Database) -> list[Grant]:
    """Every grant, by scope, then action, then age: the order `grants` lists them in."""
    with db.read() as session:
        return list(session.scalars(select(Grant).order_by(Grant.scope, Grant.action, Grant.id)))
