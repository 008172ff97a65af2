"""The alerts' store: every statement on `alerts`, `alert_failures` and `alert_digests`, and
the alerts' mark on `polytomic_events` (`alerted_at`).

* **Intake** (`pending`, `take_in`, in bot/db/alert_intake.py): each stored terminal event once.
* **A pass** (bot.alerts.passes) works on a row it `claim`ed under a lease, as the tracker's on
  operations: `save` writes only while the lease is held (LeaseLost otherwise); `finish` only
  when nothing touched the row since the claim (`hinted_at`), else `release` leaves it due now.
* **Clicks and intake** only `touch` a row (due now, `hinted_at`) and write their own fields
  (`paused_at`, `restart_op_id`), never a pass's.
* **Digests**: one live digest per channel (`uq_alert_digests_live`), claimed like alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.alert_intake import IntakeVerbs
from bot.db.audit import Event, insert_event
from bot.db.engine import Database
from bot.db.models import (
    ALERT_DIGESTS,
    ALERT_FAILURES,
    ALERTS,
    POLYTOMIC_EVENTS,
    SUBSCRIPTIONS,
    Alert,
    AlertDigest,
    AlertFailure,
)

AL, FA, DG, EV, SUBS = ALERTS, ALERT_FAILURES, ALERT_DIGESTS, POLYTOMIC_EVENTS, SUBSCRIPTIONS


class AlertLeaseLost(Exception):
    """Another process holds this alert (or digest) now: stop touching it."""


class AlertStore(IntakeVerbs):
    def __init__(self, db: Database, *, clock: Clock = SYSTEM_CLOCK, lease_ttl: float = 60.0) -> None:
        self.db = db
        self.clock = clock
        self.lease_ttl = lease_ttl

    # ---- reads -------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert | None:
        with self.db.read() as session:
            return session.get(Alert, alert_id)

    def failures(self, alert_id: int) -> list[AlertFailure]:
        with self.db.read() as session:
            query = select(AlertFailure).where(AlertFailure.alert_id == alert_id).order_by(AlertFailure.seq)
            return list(session.scalars(query))

    def recent_failing(self, channel_id: str, since: datetime) -> int:
        """Syncs whose streak opened in this channel since `since`: a flood when many."""
        with self.db.read_engine.connect() as conn:
            count = conn.scalar(
                select(func.count(func.distinct(AL.c.sync_id))).where(
                    AL.c.channel_id == channel_id, AL.c.kind == "streak", AL.c.created_at >= since
                )
            )
        return int(count or 0)

    def next_due(self) -> datetime | None:
        """When the earliest claimable alert or digest falls due (its lease free or lapsed:
        a dead holder's rows count); None when there is none. A read."""
        now = self.clock.now()
        with self.db.read_engine.connect() as conn:
            dues = [
                conn.scalar(
                    select(func.min(t.c.next_poll_at)).where(
                        t.c.finished_at.is_(None), or_(t.c.lease_owner.is_(None), t.c.lease_expires_at < now)
                    )
                )
                for t in (AL, DG)
            ]
        known = [d for d in dues if d is not None]
        return min(known) if known else None

    def look_ahead(self) -> tuple[datetime | None, bool]:
        """`next_due` and whether a disabled subscription's subscriber is still untold, in one
        read: what an idle look of the worker asks each time it wakes, so an idle wake is one
        statement, not three."""
        now = self.clock.now()
        dues = [
            select(func.min(t.c.next_poll_at))
            .where(t.c.finished_at.is_(None), or_(t.c.lease_owner.is_(None), t.c.lease_expires_at < now))
            .scalar_subquery()
            for t in (AL, DG)
        ]
        untold = (
            select(SUBS.c.id)
            .where(SUBS.c.disabled_at.is_not(None), SUBS.c.disabled_told_at.is_(None))
            .limit(1)
            .scalar_subquery()
        )
        with self.db.read_engine.connect() as conn:
            row = conn.execute(select(dues[0].label("a"), dues[1].label("d"), untold.label("u"))).one()
        known = [d for d in (row.a, row.d) if d is not None]
        return (min(known) if known else None), row.u is not None

    # ---- clicks ------------------------------------------------------------------------

    def touch(self, alert_id: int, *, audit: Event | None = None, **fields: Any) -> None:
        """Make the alert due now (a click changed what it shows), with the click's own fields."""
        now = self.clock.now()
        with self.db.core() as conn:
            conn.execute(
                update(AL)
                .where(AL.c.id == alert_id)
                .values(next_poll_at=now, hinted_at=now, finished_at=None, **fields)
            )
            if audit is not None:
                insert_event(conn, now, **audit)

    def mark_paused(self, alert_id: int, *, by: str | None) -> bool:
        """Pause (by a user) or resume (by=None) as shown on the alert: one click wins."""
        now = self.clock.now()
        condition = AL.c.paused_at.is_(None) if by is not None else AL.c.paused_at.is_not(None)
        values = (
            {"paused_at": now, "paused_by": by} if by is not None else {"paused_at": None, "paused_by": None}
        )
        with self.db.core() as conn:
            return bool(
                conn.execute(update(AL).where(AL.c.id == alert_id, condition).values(**values)).rowcount
            )

    # ---- passes (alerts and digests alike) -----------------------------------------------

    def claim(self, owner: str, limit: int, *, digests: bool = False) -> list[Any]:
        """Lease up to `limit` due rows (alerts, or digests) to `owner`, most overdue first."""
        table, model = (DG, AlertDigest) if digests else (AL, Alert)
        now = self.clock.now()
        free = or_(table.c.lease_owner.is_(None), table.c.lease_expires_at < now)
        due = (
            select(table.c.id)
            .where(table.c.finished_at.is_(None), table.c.next_poll_at <= now, free)
            .order_by(table.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.db.core() as conn:
            rows = conn.execute(
                update(table)
                .where(table.c.id.in_(due.scalar_subquery()), free)
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=self.lease_ttl))
                .returning(*table.c)
            ).all()
        return [model(**row._mapping) for row in rows]

    def save(
        self, row: Alert | AlertDigest, owner: str, changes: Mapping[str, Any], *, audit: Event | None = None
    ) -> None:
        table = DG if isinstance(row, AlertDigest) else AL
        now = self.clock.now()
        values = {**changes, "lease_expires_at": now + timedelta(seconds=self.lease_ttl)}
        if table is AL:
            values["updated_at"] = now
        with self.db.core() as conn:
            if (
                conn.execute(
                    update(table).where(table.c.id == row.id, table.c.lease_owner == owner).values(**values)
                ).rowcount
                != 1
            ):
                raise AlertLeaseLost(row.id)
            if audit is not None:
                insert_event(conn, now, **audit)
        for name, value in changes.items():
            setattr(row, name, value)

    def save_reply(self, alert: Alert, owner: str, failure_id: int, **changes: Any) -> None:
        """A thread reply for one failure landed (or failed for good): recorded with the lease."""
        with self.db.core() as conn:
            held = conn.execute(
                update(AL)
                .where(AL.c.id == alert.id, AL.c.lease_owner == owner)
                .values(lease_expires_at=self.clock.now() + timedelta(seconds=self.lease_ttl))
            ).rowcount
            if held != 1:
                raise AlertLeaseLost(alert.id)
            conn.execute(update(FA).where(FA.c.id == failure_id).values(**changes))

    def release(self, row: Alert | AlertDigest, owner: str, next_at: datetime, **changes: Any) -> None:
        table = DG if isinstance(row, AlertDigest) else AL
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "next_poll_at": next_at,
            **changes,
        }
        if table is AL:
            # Touched during the pass: due now, whatever the pass wanted.
            values["next_poll_at"] = case(
                (AL.c.hinted_at.is_not_distinct_from(getattr(row, "hinted_at", None)), next_at),
                else_=self.clock.now(),
            )
        with self.db.core() as conn:
            conn.execute(
                update(table).where(table.c.id == row.id, table.c.lease_owner == owner).values(**values)
            )

    def finish(self, row: Alert | AlertDigest, owner: str) -> bool:
        """Done, unless something touched it during the pass (then it is due again now)."""
        table = DG if isinstance(row, AlertDigest) else AL
        where = [table.c.id == row.id, table.c.lease_owner == owner]
        if table is AL:
            where.append(AL.c.hinted_at.is_not_distinct_from(getattr(row, "hinted_at", None)))
        with self.db.core() as conn:
            done = conn.execute(
                update(table)
                .where(*where)
                .values(finished_at=self.clock.now(), lease_owner=None, lease_expires_at=None)
            ).rowcount
        if not done:
            self.release(row, owner, self.clock.now())
        return bool(done)

    def release_all(self, owner: str | None) -> None:
        with self.db.core() as conn:
            for table in (AL, DG):
                query = update(table).values(lease_owner=None, lease_expires_at=None)
                if owner is not None:
                    query = query.where(table.c.lease_owner == owner)
                conn.execute(query)

    # ---- digests -----------------------------------------------------------------------

    def live_digest(self, channel_id: str) -> AlertDigest | None:
        with self.db.read() as session:
            return session.scalars(
                select(AlertDigest).where(
                    AlertDigest.channel_id == channel_id, AlertDigest.closed_at.is_(None)
                )
            ).first()

    def open_digest(self, channel_id: str, since: datetime) -> int:
        """The channel's live digest, opened now if there is none, covering every streak that
        opened in the channel since `since` and is not posted yet."""
        now = self.clock.now()
        try:
            with self.db.core() as conn:
                digest_id = int(
                    conn.execute(
                        insert(DG)
                        .values(channel_id=channel_id, opened_at=since, last_at=now, next_poll_at=now)
                        .returning(DG.c.id)
                    ).scalar_one()
                )
                conn.execute(
                    update(AL)
                    .where(
                        AL.c.channel_id == channel_id,
                        AL.c.kind == "streak",
                        AL.c.created_at >= since,
                        AL.c.ts.is_(None),
                        AL.c.digest_id.is_(None),
                    )
                    .values(digest_id=digest_id, next_poll_at=now, hinted_at=now, finished_at=None)
                )
                return digest_id
        except IntegrityError:
            live = self.live_digest(channel_id)
            if live is None:
                raise
            return live.id

    def join_digest(self, alert: Alert, owner: str, digest_id: int) -> None:
        """This alert's failures are told by the digest (under the alert's lease), which is due now."""
        now = self.clock.now()
        self.save(alert, owner, {"digest_id": digest_id, "covered_failures": alert.failures})
        with self.db.core() as conn:
            conn.execute(
                update(DG).where(DG.c.id == digest_id).values(last_at=now, next_poll_at=now, finished_at=None)
            )

    def digest_members(self, digest_id: int) -> list[Alert]:
        with self.db.read() as session:
            return list(session.scalars(select(Alert).where(Alert.digest_id == digest_id).order_by(Alert.id)))

    def members_due(self, digest_id: int) -> None:
        """A closed digest's members post on their own from now on (a later failure shows)."""
        now = self.clock.now()
        with self.db.core() as conn:
            conn.execute(
                update(AL)
                .where(AL.c.digest_id == digest_id)
                .values(next_poll_at=now, hinted_at=now, finished_at=None)
            )
