"""The App Home's store: every statement on `homes`, and the reads of `operations` and `stops`
the Home tab makes (a person's last operations and stops; the operations holding the runs it
shows).

Slack has no "closed" event for the Home tab, so a home opened within OPEN_FOR seconds counts as
open. When an operation someone started changes state, their open home is marked stale
(`mark_stale`), and republished no sooner than REPUBLISH_EVERY seconds after it was last
published. Which process republishes is settled here, in the database: `claim_due` moves each
due home to "published now" with one conditional UPDATE that only one caller can win, whatever
the replica, so a person's home is published at most once per window across all of them.

A retried app_home_opened (Slack resends an event it thinks was not acked, and Socket Mode may
deliver one twice) is a duplicate: `opened` takes each event (its `event_ts`) once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.engine import Database
from bot.db.models import HOMES, NOT_HOLDING, Operation, Stop

OPEN_FOR: Final = 600.0  # seconds after its last opening a home still counts as open
REPUBLISH_EVERY: Final = 5.0  # seconds at least between two republishes of one home
RECENT: Final = 10  # operations the Home tab lists


@dataclass(frozen=True)
class OpenHome:
    """A home to publish: whose, and in which workspace."""

    user_id: str
    team_id: str | None


class HomeStore:
    """The verbs on `homes`; times come from `clock`."""

    def __init__(self, db: Database, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock

    # ---- the viewer ---------------------------------------------------------------------

    def opened(self, user_id: str, team_id: str | None, channel_id: str | None, event_ts: str) -> bool:
        """Record that `user_id` opened their home (event `event_ts`, their DM with the app
        `channel_id`). False when this very event was taken already (a retry): nothing changes."""
        now = self.clock.now()
        values = {"opened_at": now, "event_ts": event_ts, "team_id": team_id}
        if channel_id is not None:
            values["channel_id"] = channel_id
        newer = or_(HOMES.c.event_ts.is_(None), HOMES.c.event_ts != event_ts)
        for _ in range(2):
            with self.db.core() as conn:
                if conn.execute(
                    update(HOMES).where(HOMES.c.user_id == user_id, newer).values(**values)
                ).rowcount:
                    return True
                if conn.scalar(select(HOMES.c.user_id).where(HOMES.c.user_id == user_id)) is not None:
                    return False  # the row holds this event already
            try:
                with self.db.core() as conn:
                    conn.execute(insert(HOMES).values(user_id=user_id, **values))
                return True
            except IntegrityError:
                continue  # another process inserted it meanwhile: the update decides
        return False

    def touched(self, user_id: str) -> None:
        """The viewer acted on their home (Refresh, a button): it is open."""
        with self.db.core() as conn:
            conn.execute(update(HOMES).where(HOMES.c.user_id == user_id).values(opened_at=self.clock.now()))

    def dm_channel(self, user_id: str) -> str | None:
        """The viewer's DM with the app, as the last app_home_opened named it."""
        with self.db.read_engine.connect() as conn:
            channel: str | None = conn.scalar(select(HOMES.c.channel_id).where(HOMES.c.user_id == user_id))
        return channel

    def published(self, user_id: str) -> None:
        """Their home was just published (on opening or Refresh): nothing stale is left."""
        with self.db.core() as conn:
            conn.execute(
                update(HOMES)
                .where(HOMES.c.user_id == user_id)
                .values(published_at=self.clock.now(), stale_at=None)
            )

    def recent_operations(self, user_id: str, limit: int = RECENT) -> list[Operation]:
        """The operations `user_id` started on their own, newest first (a stop's operations are
        listed as their stop: `recent_stops`)."""
        query = (
            select(Operation)
            .where(Operation.requested_by == user_id, Operation.stop_id.is_(None))
            .order_by(Operation.created_at.desc(), Operation.id.desc())
            .limit(limit)
        )
        with self.db.read() as session:
            return list(session.scalars(query))

    def recent_stops(self, user_id: str, limit: int = RECENT) -> list[Stop]:
        """The stops (many syncs at once) `user_id` started, newest first."""
        query = (
            select(Stop).where(Stop.requested_by == user_id).order_by(Stop.created_at.desc(), Stop.id.desc())
        )
        with self.db.read() as session:
            return list(session.scalars(query.limit(limit)))

    def holders(self, execution_ids: Sequence[str]) -> dict[str, Operation]:
        """The operation holding each of these runs (canceling it, or done with it), by run."""
        if not execution_ids:
            return {}
        query = select(Operation).where(
            Operation.execution_id.in_(sorted(set(execution_ids))),
            Operation.kind != "start",  # a start never holds the run it started
            Operation.state.not_in(NOT_HOLDING),
        )
        with self.db.read() as session:
            return {op.execution_id: op for op in session.scalars(query) if op.execution_id}

    # ---- republishing ---------------------------------------------------------------------

    def mark_stale(self, user_ids: Sequence[str]) -> int:
        """Operations of these people changed: their homes that are open become due for a
        republish (a home closed long ago is left alone). Returns how many. Most changes are
        of people whose home is not open: a read finds that, and nothing is written."""
        if not user_ids:
            return 0
        now = self.clock.now()
        candidates = (
            HOMES.c.user_id.in_(sorted(set(user_ids))),
            HOMES.c.opened_at >= now - timedelta(seconds=OPEN_FOR),
            HOMES.c.stale_at.is_(None),
        )
        with self.db.read_engine.connect() as conn:
            if conn.scalar(select(HOMES.c.user_id).where(*candidates).limit(1)) is None:
                return 0
        with self.db.core() as conn:
            return int(conn.execute(update(HOMES).where(*candidates).values(stale_at=now)).rowcount)

    def _due(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            HOMES.c.stale_at.is_not(None),
            HOMES.c.opened_at >= now - timedelta(seconds=OPEN_FOR),
            or_(
                HOMES.c.published_at.is_(None),
                HOMES.c.published_at <= now - timedelta(seconds=REPUBLISH_EVERY),
            ),
        )

    def claim_due(self, limit: int) -> list[OpenHome]:
        """Up to `limit` open, stale homes whose window has passed, each marked published now by
        this caller alone (the conditional UPDATE is the claim): the caller publishes them."""
        now = self.clock.now()
        due = self._due(now)
        picked = select(HOMES.c.user_id).where(due).order_by(HOMES.c.stale_at).limit(limit)
        with self.db.core() as conn:
            rows = conn.execute(
                update(HOMES)
                .where(HOMES.c.user_id.in_(picked.scalar_subquery()), due)
                .values(published_at=now, stale_at=None)
                .returning(HOMES.c.user_id, HOMES.c.team_id)
            ).all()
        return [OpenHome(row.user_id, row.team_id) for row in rows]

    def restale(self, user_id: str) -> None:
        """A claimed republish could not be sent: it is due again after its window."""
        with self.db.core() as conn:
            conn.execute(
                update(HOMES)
                .where(HOMES.c.user_id == user_id, HOMES.c.stale_at.is_(None))
                .values(stale_at=self.clock.now())
            )

    def next_due(self) -> datetime | None:
        """When the earliest stale, open home may be republished (None: none is stale)."""
        now = self.clock.now()
        with self.db.read_engine.connect() as conn:
            stale = conn.execute(
                select(func.min(HOMES.c.published_at), func.count()).where(
                    HOMES.c.stale_at.is_not(None),
                    HOMES.c.opened_at >= now - timedelta(seconds=OPEN_FOR),
                )
            ).one()
        earliest: datetime | None = stale[0]
        if not stale[1]:
            return None
        if earliest is None:
            return now
        return max(now, earliest + timedelta(seconds=REPUBLISH_EVERY))
