"""The subscriptions' store: every statement on `subscriptions` and `mutes`, as named verbs.

`subscribe` and `unsubscribe` write the row and its audit row in one transaction (as grants do),
so the trail never misses a change. The unique key (channel, scope kind, scope ID) makes a
repeated subscribe an update of its mode, never a second row; a disabled subscription (its
channel went away) is enabled again by subscribing again. `channel_gone` disables a channel's
subscriptions once, and `untold` / `told` are the note to whoever subscribed.
`manageable_by` is what App Home lists: the subscriptions a user may manage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.db.audit import insert_event
from bot.db.engine import Database
from bot.db.models import MUTES, SUBSCRIPTIONS, Subscription, utcnow

SUBS = SUBSCRIPTIONS
ScopeKind = Literal["sync", "all", "connection"]
Changed = Literal["added", "updated", "unchanged", "removed", "absent"]


@dataclass(frozen=True)
class Scope:
    """What a subscription covers: one sync, every sync (`*`), or every sync writing to a
    connection; `name` is the sync's or connection's name as shown (None: not known)."""

    kind: ScopeKind
    id: str
    name: str | None = None

    @property
    def permission_scope(self) -> str | None:
        """The sync a `subscribe` grant must cover; None means `*` (a connection spans syncs)."""
        return self.id if self.kind == "sync" else None


def subscribe(
    db: Database,
    *,
    channel_id: str,
    team_id: str | None,
    scope: Scope,
    mode: str,
    actor: str,
    at: datetime | None = None,
) -> Changed:
    """Add the subscription, or change its mode (and enable it again); audited either way."""
    now = at or utcnow()
    key = _key(channel_id, scope)
    for attempt in range(2):  # a racing insert of the same key: the second try updates it
        try:
            with db.core() as conn:
                row = conn.execute(select(SUBS.c.mode, SUBS.c.disabled_at).where(*key)).first()
                if row is None:
                    conn.execute(
                        insert(SUBS).values(
                            channel_id=channel_id,
                            team_id=team_id,
                            scope_kind=scope.kind,
                            scope_id=scope.id,
                            scope_name=scope.name,
                            mode=mode,
                            created_by=actor,
                            created_at=now,
                        )
                    )
                    changed: Changed = "added"
                elif row.mode == mode and row.disabled_at is None:
                    changed = "unchanged"
                else:
                    conn.execute(
                        update(SUBS)
                        .where(*key)
                        .values(
                            mode=mode,
                            scope_name=scope.name,
                            created_by=actor,
                            disabled_at=None,
                            disabled_reason=None,
                            disabled_told_at=None,
                        )
                    )
                    changed = "updated"
                outcome = f"{changed}: {scope.kind} {scope.id} ({mode})"
                _audit(conn, now, actor, "subscribe", channel_id, scope, outcome)
            return changed
        except IntegrityError:
            if attempt:
                raise  # not a race (a constraint or a trigger refused it): nothing was written
    raise AssertionError("unreachable")


def unsubscribe(
    db: Database, *, channel_id: str, scope: Scope, actor: str, at: datetime | None = None
) -> Changed:
    now = at or utcnow()
    with db.core() as conn:
        removed = conn.execute(delete(SUBS).where(*_key(channel_id, scope))).rowcount
        changed: Changed = "removed" if removed else "absent"
        _audit(conn, now, actor, "unsubscribe", channel_id, scope, f"{changed}: {scope.kind} {scope.id}")
    return changed


def _key(channel_id: str, scope: Scope) -> tuple[ColumnElement[bool], ...]:
    """The subscription's unique key (channel, scope) as a WHERE clause."""
    return (SUBS.c.channel_id == channel_id, SUBS.c.scope_kind == scope.kind, SUBS.c.scope_id == scope.id)


def _audit(
    conn: Connection, now: datetime, actor: str, action: str, channel_id: str, scope: Scope, outcome: str
) -> None:
    """The audit event of a (un)subscribe, in its transaction: on a sync, it is the sync's."""
    insert_event(
        conn,
        now,
        actor=actor,
        action=action,
        sync_id=scope.id if scope.kind == "sync" else None,
        outcome=outcome,
        channel_id=channel_id,
    )


def in_channel(db: Database, channel_id: str) -> list[Subscription]:
    with db.read() as session:
        query = select(Subscription).where(Subscription.channel_id == channel_id)
        return list(session.scalars(query.order_by(Subscription.id)))


def every(db: Database, *, limit: int = 500) -> list[Subscription]:
    with db.read() as session:
        query = select(Subscription).order_by(Subscription.channel_id, Subscription.id).limit(limit)
        return list(session.scalars(query))


def manageable_by(
    db: Database, user_id: str, *, admin: bool, subscribable: Iterable[str] = ()
) -> list[Subscription]:
    """The subscriptions this user may manage (App Home): every one for an admin; else those
    they made, and those on a sync they hold `subscribe` on (`subscribable`: sync IDs, or
    "*" for every subscription)."""
    scopes = set(subscribable)
    with db.read() as session:
        query = select(Subscription)
        if not admin and "*" not in scopes:
            mine = Subscription.created_by == user_id
            on_held = and_(Subscription.scope_kind == "sync", Subscription.scope_id.in_(sorted(scopes)))
            query = query.where(or_(mine, on_held) if scopes else mine)
        return list(session.scalars(query.order_by(Subscription.channel_id, Subscription.id)))


def channel_gone(db: Database, channel_id: str, reason: str, *, at: datetime | None = None) -> int:
    """Disable the channel's enabled subscriptions (its alerts stop); audited once per row."""
    now = at or utcnow()
    with db.core() as conn:
        ids = list(
            conn.execute(
                select(SUBS.c.id).where(SUBS.c.channel_id == channel_id, SUBS.c.disabled_at.is_(None))
            ).scalars()
        )
        if not ids:
            return 0
        conn.execute(
            update(SUBS)
            .where(SUBS.c.id.in_(ids), SUBS.c.disabled_at.is_(None))
            .values(disabled_at=now, disabled_reason=reason[:64])
        )
        insert_event(
            conn,
            now,
            actor="bot",
            action="subscriptions.disabled",
            outcome=f"{len(ids)} disabled: {reason}"[:200],
            channel_id=channel_id,
        )
    return len(ids)


def untold(db: Database, *, limit: int = 20) -> list[Subscription]:
    """Disabled subscriptions whose subscriber has not been told yet."""
    with db.read() as session:
        query = select(Subscription).where(
            Subscription.disabled_at.is_not(None), Subscription.disabled_told_at.is_(None)
        )
        return list(session.scalars(query.order_by(Subscription.id).limit(limit)))


def told(db: Database, ids: Sequence[int], *, at: datetime | None = None) -> int:
    """Mark these as told; only rows still untold change (of two processes, one tells)."""
    if not ids:
        return 0
    with db.core() as conn:
        return int(
            conn.execute(
                update(SUBS)
                .where(SUBS.c.id.in_(ids), SUBS.c.disabled_told_at.is_(None))
                .values(disabled_told_at=at or utcnow())
            ).rowcount
            or 0
        )


# ---- mutes ---------------------------------------------------------------------------


def mute(
    db: Database, channel_id: str, sync_id: str, *, seconds: float, actor: str, at: datetime | None = None
) -> datetime:
    """Mute one sync's alerts in one channel until now + seconds (a later mute replaces it)."""
    now = at or utcnow()
    until = now + timedelta(seconds=seconds)
    with db.core() as conn:
        conn.execute(delete(MUTES).where(MUTES.c.channel_id == channel_id, MUTES.c.sync_id == sync_id))
        conn.execute(
            insert(MUTES).values(channel_id=channel_id, sync_id=sync_id, until=until, muted_by=actor)
        )
        insert_event(
            conn,
            now,
            actor=actor,
            action="mute",
            sync_id=sync_id,
            outcome=f"muted until {until.isoformat(timespec='seconds')}",
            channel_id=channel_id,
        )
    return until


def muted_until(db: Database, channel_id: str, sync_id: str) -> datetime | None:
    with db.read_engine.connect() as conn:
        until: datetime | None = conn.scalar(
            select(MUTES.c.until).where(MUTES.c.channel_id == channel_id, MUTES.c.sync_id == sync_id)
        )
    return until


@dataclass(frozen=True)
class Cover:
    """An enabled subscription as the alerts' intake matches it: its channel, mode and scope."""

    channel_id: str
    mode: str
    scope_kind: str
    scope_id: str | None


def enabled_covers(db: Database) -> list[Cover]:
    """Every enabled subscription, in one read (the intake matches a whole batch against it)."""
    with db.read_engine.connect() as conn:
        rows = conn.execute(
            select(SUBS.c.channel_id, SUBS.c.mode, SUBS.c.scope_kind, SUBS.c.scope_id)
            .where(SUBS.c.disabled_at.is_(None))
            .order_by(SUBS.c.id)
        ).all()
    return [Cover(row.channel_id, row.mode, row.scope_kind, row.scope_id) for row in rows]
