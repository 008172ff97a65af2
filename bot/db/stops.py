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

The hot statements (the hint, the aborted check, the claim and a pass's writes, the tally's read)
are built once in bot/db/stop_statements.py, the writes run through bot/db/direct.py: a
1,000-sync stop runs some of them once per sync, and the loop looks for a due stop ten times a
second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from bot.db import bounds, direct
from bot.db import stop_statements as sql
from bot.db.audit import Event, insert_event
from bot.db.leased import LeasedStore
from bot.db.models import OPERATIONS, STOP_SYNCS, STOPS, Operation, Stop, StopSync
from bot.db.stop_clicks import MAX_STOP, PROMPT_TTL, AlreadyConfirmed, Expired, Picked, StopClicks
from bot.db.stop_statements import TalliedOperation

OPS = OPERATIONS
__all__ = [
    "MAX_STOP",
    "PROMPT_TTL",
    "AlreadyConfirmed",
    "Expired",
    "LeaseLost",
    "Picked",
    "StopStore",
    "TalliedOperation",
    "hint",
]


class LeaseLost(Exception):
    """Another process holds this stop now: stop touching it."""


def hint(conn: Connection, op_id: int, stop_id: int, now: datetime) -> None:
    """An operation of this stop reached a final state (the operations store calls this in the
    transaction of the change): when it was the stop's last unsettled operation, the stop is due
    now, so the final summary is not held back. (While its operations go on, the stop's pass
    looks at them at the summary's own pace: bot/tracker/stop_pass.py.)"""
    direct.write(conn, sql.HINT, {"w_stop": stop_id, "w_op": op_id, "next_poll_at": now, "hinted_at": now})


class StopStore(StopClicks, LeasedStore):
    leased = STOPS

    # ---- reads ----------------------------------------------------------------------------

    def get(self, stop_id: int) -> Stop | None:
        return self._get(Stop, stop_id)

    def aborted(self, stop_id: int) -> bool:
        """Whether the rest of this stop was aborted (one column read: each of its operations
        asks before its cancel goes)."""
        row = sql.read_one(self.db.read_engine, sql.ABORTED, {"w_stop": stop_id})
        return row is not None and row[0] is not None

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

    def tallied(self, stop_id: int) -> list[TalliedOperation]:
        """The stop's operations with only what its tally, its Resume and its views read
        (bot/stops.py), as plain objects: its pass reads all of them each time, and a
        1,000-sync stop's rows through the ORM cost eight times the read."""
        with bounds.window(bounds.TRANSACTION_SECONDS), self.db.read_engine.connect() as conn:
            return [TalliedOperation(*row) for row in conn.execute(sql.TALLIED, {"w_stop": stop_id})]

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
            due: datetime | None = conn.scalar(sql.NEXT_DUE)
        return due

    # ---- the tracker's passes -------------------------------------------------------------

    def claim(self, owner: str, limit: int) -> list[Stop]:
        now = self.clock.now()
        # The tracker looks every STOP_LOOK seconds and a stop is seldom due: a read says so
        # without a write transaction (the claim below decides, conditionally, as before).
        if sql.read_one(self.db.read_engine, sql.ANY_DUE, {"w_now": now}) is None:
            return []
        values = {
            "w_now": now,
            "w_limit": limit,
            "lease_owner": owner,
            "lease_expires_at": now + timedelta(seconds=self.lease_ttl),
        }
        with self.db.core() as conn:
            rows = conn.execute(sql.CLAIM, values).all()
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
        if direct.write(conn, sql.HELD, {**values, "w_id": stop_id, "w_owner": owner}) != 1:
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
            direct.write(conn, sql.MEMBER, {**changes, "w_member": member.id})
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(member, name, value)

    def save_operation_resume(
        self,
        stop: Stop,
        owner: str,
        op: Operation | TalliedOperation,
        changes: Mapping[str, Any],
        *,
        audit: Event | None = None,
    ) -> None:
        """A cancel-and-pause sync's schedule resumed by its stop's Resume button, under the
        stop's lease; only a schedule not resumed yet (a single Resume click may have won)."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            direct.write(conn, sql.OPERATION_RESUME, {**changes, "w_op": op.id})
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
        values = {
            "w_id": stop.id,
            "w_owner": owner,
            # A hint during the pass (the last operation settled) makes it due now.
            "w_hinted": hinted_at,
            "w_next": next_at,
            "w_now": self.clock.now(),
        }
        with self.db.core() as conn:
            direct.write(conn, sql.RELEASE, values)

    def finish(self, stop: Stop, owner: str) -> bool:
        """Done, unless a click (a resume, an abort) or a hint came during the pass."""
        values = {
            "w_id": stop.id,
            "w_owner": owner,
            "w_hinted": stop.hinted_at,
            "w_resume_asked": stop.resume_asked_at,
            "w_now": self.clock.now(),
        }
        with self.db.core() as conn:
            return bool(direct.write(conn, sql.FINISH, values))

    def release_all(self, owner: str | None) -> None:
        query = update(STOPS).values(lease_owner=None, lease_expires_at=None)
        if owner is not None:
            query = query.where(STOPS.c.lease_owner == owner)
        with self.db.core() as conn:
            conn.execute(query)
