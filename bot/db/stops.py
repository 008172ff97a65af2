"""The stops' store: every statement on `stop_prompts`, `stops` and `stop_syncs`.

A *stop* is many syncs canceled, paused or resumed from one confirm click (bot/selectors.py
says why it is not called an incident). Its exactly-once rules, all in the database:

* **The prompt** is a row (`save_prompt`): the syncs selected and the run of each at prompt
  time, expiring after PROMPT_TTL. Its buttons carry only its ID.
* **A click** (bot/db/stop_clicks.py, inherited) writes only with conditional statements one
  click can win:
  - `confirm`: the stop and its syncs, in one transaction; the unique `prompt_id` makes a double
    click, a replay or a second replica lose (`AlreadyConfirmed`, the winner's ID);
  - `abort`: `aborted_at`, only while the stop is not final and not aborted;
  - `ask_resume`: `resume_asked_at`, only on a final stop not asked before.
* **A pass** (bot/tracker/stop_pass.py) writes only under the stop's lease, as for operations:
  `claim`, `save`, `save_member` (a sync's pause or resume as it landed), `release`, `finish`.
* **Its operations** (one a sync to cancel, bound to the run at prompt time) are inserted with the
  stop, in the confirm's transaction; the tracker takes each through the single cancel's machine.
* **The last operation of the stop** to reach a final state makes the stop due now (`hint`,
  called by the operations store in the same transaction), so the final summary follows at once;
  a release never postpones a hint. Until then the stop's pass comes back at its summary's pace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select, update
from sqlalchemy.orm import load_only

from bot.db.audit import Event, insert_event
from bot.db.leased import LeasedStore
from bot.db.models import OPERATIONS, STOP_SYNCS, STOPS, Operation, Stop, StopSync
from bot.db.stop_clicks import MAX_STOP, PROMPT_TTL, AlreadyConfirmed, Expired, Picked, StopClicks

OPS = OPERATIONS
__all__ = [
    "MAX_STOP",
    "PROMPT_TTL",
    "AlreadyConfirmed",
    "Expired",
    "LeaseLost",
    "Picked",
    "StopStore",
    "hint",
]


class LeaseLost(Exception):
    """Another process holds this stop now: stop touching it."""


def _lease_free(now: datetime) -> Any:
    return or_(STOPS.c.lease_owner.is_(None), STOPS.c.lease_expires_at < now)


# What a stop's tally (bot/stops.py), its Resume and its views read of its operations.
_TALLIED = (
    Operation.id,
    Operation.stop_id,
    Operation.sync_id,
    Operation.sync_name,
    Operation.kind,
    Operation.state,
    Operation.last_error,
    Operation.execution_errors,
    Operation.paused_at,
    Operation.was_active,
    Operation.pause_error,
    Operation.resumed_at,
    Operation.resume_error,
    Operation.resumed_by,
)
_UNSETTLED = ("confirmed", "canceling")  # an operation of a stop that may still change the summary


def hint(conn: Connection, op_id: int, stop_id: int, now: datetime) -> None:
    """An operation of this stop reached a final state (the operations store calls this in the
    transaction of the change): when it was the stop's last unsettled operation, the stop is due
    now, so the final summary is not held back. (While its operations go on, the stop's pass
    looks at them at the summary's own pace: bot/tracker/stop_pass.py.)"""
    others = (
        select(OPS.c.id)
        .where(OPS.c.stop_id == stop_id, OPS.c.id != op_id, OPS.c.state.in_(_UNSETTLED))
        .exists()
    )
    conn.execute(
        update(STOPS)
        .where(STOPS.c.id == stop_id, STOPS.c.finished_at.is_(None), ~others)
        .values(next_poll_at=now, hinted_at=now)
    )


class StopStore(StopClicks, LeasedStore):
    leased = STOPS

    # ---- reads ----------------------------------------------------------------------------

    def get(self, stop_id: int) -> Stop | None:
        return self._get(Stop, stop_id)

    def aborted(self, stop_id: int) -> bool:
        """Whether the rest of this stop was aborted (one column read: each of its operations
        asks before its cancel goes)."""
        with self.db.read_engine.connect() as conn:
            return conn.scalar(select(STOPS.c.aborted_at).where(STOPS.c.id == stop_id)) is not None

    def members(self, stop_id: int) -> list[StopSync]:
        with self.db.read() as session:
            return list(
                session.scalars(select(StopSync).where(StopSync.stop_id == stop_id).order_by(StopSync.id))
            )

    def operations(self, stop_id: int) -> list[Operation]:
        with self.db.read() as session:
            return list(
                session.scalars(select(Operation).where(Operation.stop_id == stop_id).order_by(Operation.id))
            )

    def tallied(self, stop_id: int) -> list[Operation]:
        """The stop's operations with only what its tally, its Resume and its views read
        (bot/stops.py): its pass reads all of them each time, and a 1,000-sync stop's whole
        rows cost twice as much. Any other column is not loaded (reading one raises)."""
        with self.db.read() as session:
            query = (
                select(Operation)
                .options(load_only(*_TALLIED, raiseload=True))
                .where(Operation.stop_id == stop_id)
                .order_by(Operation.id)
            )
            return list(session.scalars(query))

    def paused_by_the_bot(self, sync_ids: Sequence[str]) -> dict[str, StopSync]:
        """For each of these syncs, the latest stop that paused its schedule (it was active before)
        and has not resumed it."""
        if not sync_ids:
            return {}
        with self.db.read() as session:
            rows = session.scalars(
                select(StopSync)
                .where(
                    StopSync.sync_id.in_(list(sync_ids)),
                    StopSync.paused_at.is_not(None),
                    StopSync.was_active.is_(True),
                    StopSync.resumed_at.is_(None),
                )
                .order_by(StopSync.id)
            )
            return {row.sync_id: row for row in rows}

    def next_due(self) -> datetime | None:
        with self.db.read_engine.connect() as conn:
            due: datetime | None = conn.scalar(
                select(func.min(STOPS.c.next_poll_at)).where(
                    STOPS.c.finished_at.is_(None), STOPS.c.lease_owner.is_(None)
                )
            )
        return due

    # ---- the tracker's passes -------------------------------------------------------------

    def claim(self, owner: str, limit: int) -> list[Stop]:
        now = self.clock.now()
        due_now = (STOPS.c.finished_at.is_(None), STOPS.c.next_poll_at <= now, _lease_free(now))
        # The tracker looks every STOP_LOOK seconds and a stop is seldom due: a read says so
        # without a write transaction (the claim below decides, conditionally, as before).
        with self.db.read_engine.connect() as conn:
            if conn.execute(select(STOPS.c.id).where(*due_now).limit(1)).first() is None:
                return []
        due = (
            select(STOPS.c.id)
            .where(*due_now)
            .order_by(STOPS.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.db.core() as conn:
            rows = conn.execute(
                update(STOPS)
                .where(STOPS.c.id.in_(due.scalar_subquery()), _lease_free(now))
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=self.lease_ttl))
                .returning(*STOPS.c)
            ).all()
        return [Stop(**row._mapping) for row in rows]

    def _held(
        self, conn: Connection, stop_id: int, owner: str, changes: Mapping[str, Any] | None = None
    ) -> None:
        now = self.clock.now()
        values = {
            **(changes or {}),
            "updated_at": now,
            "lease_expires_at": now + timedelta(seconds=self.lease_ttl),
        }
        done = conn.execute(
            update(STOPS).where(STOPS.c.id == stop_id, STOPS.c.lease_owner == owner).values(**values)
        ).rowcount
        if done != 1:
            raise LeaseLost(stop_id)

    def save(self, stop: Stop, owner: str, changes: Mapping[str, Any], *, audit: Event | None = None) -> None:
        with self.db.core() as conn:
            self._held(conn, stop.id, owner, changes)
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(stop, name, value)

    def save_member(
        self,
        stop: Stop,
        owner: str,
        member: StopSync,
        changes: Mapping[str, Any],
        *,
        audit: Event | None = None,
    ) -> None:
        """A sync's pause or resume as it landed, under the stop's lease, with its audit row."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            conn.execute(update(STOP_SYNCS).where(STOP_SYNCS.c.id == member.id).values(**changes))
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(member, name, value)

    def save_operation_resume(
        self, stop: Stop, owner: str, op: Operation, changes: Mapping[str, Any], *, audit: Event | None = None
    ) -> None:
        """A cancel-and-pause sync's schedule resumed by its stop's Resume button, under the
        stop's lease; only a schedule not resumed yet (a single Resume click may have won)."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            conn.execute(update(OPS).where(OPS.c.id == op.id, OPS.c.resumed_at.is_(None)).values(**changes))
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(op, name, value)

    def mark_resumed(self, stop: Stop, owner: str, sync_id: str, at: datetime) -> None:
        """A resume stop reactivated this schedule: the pauses it undid (other stops' syncs, or
        single cancel-and-pause operations) are resumed too, so nobody resumes them twice."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            conn.execute(
                update(STOP_SYNCS)
                .where(
                    STOP_SYNCS.c.sync_id == sync_id,
                    STOP_SYNCS.c.stop_id != stop.id,
                    STOP_SYNCS.c.paused_at.is_not(None),
                    STOP_SYNCS.c.resumed_at.is_(None),
                )
                .values(resumed_at=at)
            )
            conn.execute(
                update(OPS)
                .where(OPS.c.sync_id == sync_id, OPS.c.paused_at.is_not(None), OPS.c.resumed_at.is_(None))
                .values(resumed_at=at, resumed_by=stop.requested_by)
            )

    def release(self, stop: Stop, owner: str, *, next_at: datetime, hinted_at: datetime | None) -> None:
        now = self.clock.now()
        with self.db.core() as conn:
            conn.execute(
                update(STOPS)
                .where(STOPS.c.id == stop.id, STOPS.c.lease_owner == owner)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    # A hint during the pass (the last operation settled) makes it due now.
                    next_poll_at=case(
                        (STOPS.c.hinted_at.is_not_distinct_from(hinted_at), next_at), else_=now
                    ),
                )
            )

    def finish(self, stop: Stop, owner: str) -> bool:
        """Done, unless a click (a resume, an abort) or a hint came during the pass."""
        with self.db.core() as conn:
            return bool(
                conn.execute(
                    update(STOPS)
                    .where(
                        STOPS.c.id == stop.id,
                        STOPS.c.lease_owner == owner,
                        STOPS.c.hinted_at.is_not_distinct_from(stop.hinted_at),
                        and_(STOPS.c.resume_asked_at.is_not_distinct_from(stop.resume_asked_at)),
                    )
                    .values(finished_at=self.clock.now(), lease_owner=None, lease_expires_at=None)
                ).rowcount
            )

    def release_all(self, owner: str | None) -> None:
        query = update(STOPS).values(lease_owner=None, lease_expires_at=None)
        if owner is not None:
            query = query.where(STOPS.c.lease_owner == owner)
        with self.db.core() as conn:
            conn.execute(query)
