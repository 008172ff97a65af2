"""The operations' store: every statement on the `operations` table, as named verbs.

Callers decide; this module only reads and writes (procrastinate's JobManager is the model: the
worker decides, the manager owns every query). Two kinds of caller write a row, and the
concurrency between them is settled here, in the database, never by a lock in a process:

* **A click** (a listener or an answer, on any process) writes only:
  - `record_click` (or `create`): the confirm click's insert, a row in `confirmed`, due now;
    record_click answers within CLICK_SECONDS, and an insert it gave up on is never committed;
  - `resume` / `undo_resume`: `resumed_at`/`resumed_by`, only on a paused row not yet resumed;
  - `reopen`: `finished_at` cleared and the row due now, so the tracker re-renders it;
  - `retry`: a new cancel attempt (`cancel_attempt` + 1, `cancel_sent_at`, `escalated_at` and
    the escalation reply cleared, a new deadline), only on the attempt the button showed.
  Each is one conditional `UPDATE … WHERE <what the button saw>`: of several clicks, exactly one
  changes the row (`True`), the others change nothing (`False`). A click never takes a lease
  and never writes a field a pass writes, except `next_poll_at` and `finished_at`.
* **A pass of the tracker** (`bot.tracker`) writes only while it holds the row's lease:
  - `claim` leases due rows (`lease_owner`, `lease_expires_at`), in one statement; the lease is
    checked again in the `UPDATE` itself, which is what makes the claim exclusive on SQLite,
    and PostgreSQL's `FOR UPDATE SKIP LOCKED` keeps replicas off each other's rows;
  - `renew` extends the leases of the rows still being worked on (a heartbeat), so a slow
    remote call never lets another process take over a live holder's row;
  - `save` writes a pass's changes `WHERE lease_owner = <us>`, and a state change only
    `WHERE state = <the state the pass saw>` and only along the state machine's transitions
    (`bot.operations.can_move`); an outcome and its audit row commit together. Anything else
    raises `LeaseLost`: another process owns the row now, and this pass must stop touching it;
  - `release` gives the row back, due again at a given time (or now, when an event made it
    due during the pass: bot/db/events.py); `finish` marks it done, but only
    if no click changed it during the pass (`resumed_at` and `cancel_attempt` as claimed), so a
    click's change always gets a pass of its own.
* **One live operation per execution**: the partial unique index `uq_operations_live_execution`
  lets only one row per execution be in `canceling` or an outcome. Of two confirmed clicks on one
  run (a double click, two people, a replayed request, on any processes), the second `save` to
  `canceling` fails in the database and raises `ExecutionHeld`; that row becomes a duplicate.

The clicks' verbs (`record_click`, `create`, `resume`, `undo_resume`, `reopen`, `retry`) are in
bot/db/operation_clicks.py, which `OperationStore` inherits, as `StopStore` does bot/db/stop_clicks.py;
the contract above is theirs too. This module holds the reads and the tracker's passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Unpack

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import direct, stops
from bot.db.audit import Event, insert_event
from bot.db.leased import LeasedStore
from bot.db.models import NOT_HOLDING, OPERATIONS, Operation
from bot.db.operation_clicks import OperationClicks
from bot.db.operation_statements import (
    CLAIM,
    CLAIM_SKIPPING,
    FINISH,
    NEXT_DUE,
    NEXT_DUE_WITH_STOPS,
    RELEASE,
    RELEASE_AT,
    SAVE,
    SAVE_MOVE,
    SAVE_TAKE_ABORTED,
    SAVE_TAKE_IN_STOP,
    loaded,
)
from bot.operations import State, can_move, final_states

# Rows are claimed and written with Core statements: the ORM's bulk-update machinery costs about
# twice as much CPU, and the tracker writes on every poll.
OPS = OPERATIONS


class LeaseLost(Exception):
    """Another process took this operation over (our lease expired): stop touching it."""


class ExecutionHeld(Exception):
    """Another operation holds this execution already (the partial unique index said no)."""


class StopAborted(Exception):
    """The rest of this operation's stop was aborted before it took its run: no cancel."""


# A row that failed in a way no step handles is looked at again after this long.
AFTER_A_FAILED_STEP = 30.0  # seconds


class OperationStore(OperationClicks, LeasedStore):
    """The verbs on `operations`; times come from `clock`, leases last `lease_ttl` seconds."""

    leased = OPS

    # ---- reads ------------------------------------------------------------------------------

    def get(self, op_id: int) -> Operation | None:
        return self._get(Operation, op_id)

    def holder_of(self, execution_id: str) -> Operation | None:
        """The operation that holds this run (is canceling it, or has), if any."""
        with self.db.read() as session:
            return session.scalars(
                select(Operation).where(
                    Operation.execution_id == execution_id,
                    Operation.kind != "start",
                    Operation.state.not_in(NOT_HOLDING),
                )
            ).first()

    def count_unfinished(self) -> int:
        with self.db.read() as session:
            count = session.scalar(
                select(func.count()).select_from(Operation).where(Operation.finished_at.is_(None))
            )
        return count or 0

    # ---- the tracker's passes ----------------------------------------------------------------

    def claim(self, owner: str, limit: int) -> list[Operation]:
        """Lease up to `limit` due rows to `owner`, those whose end an event told first, then
        the most overdue, and return them whole:
        one statement, so claiming costs one round trip however many rows it takes."""
        return self.claim_and_next_due(owner, limit, next_due=False)[0]

    def claim_and_next_due(
        self,
        owner: str,
        limit: int,
        *,
        next_due: bool = True,
        stops: bool = False,
        skip: Sequence[int] = (),
    ) -> tuple[list[Operation], datetime | None, datetime | None]:
        """`claim`, and in the same transaction when the earliest row left unleased falls due
        (None: none is, or not asked), and with `stops` the earliest unleased stop too (one
        statement for both): what the tracker's loop sleeps until. Rows in `skip` are not
        claimed (the caller's passes on them are stuck: they are left to another process)."""
        now = self.clock.now()
        expires = now + timedelta(seconds=self.lease_ttl)
        due: datetime | None = None
        stop_due: datetime | None = None
        with self.db.core() as conn:
            values: dict[str, Any] = {
                "w_now": now,
                "w_limit": limit,
                "lease_owner": owner,
                "lease_expires_at": expires,
            }
            if skip:
                values["w_skip"] = list(skip)
            # On the driver's cursor (bot/db/direct.py); with `skip`, an expanding IN, through
            # Connection.execute.
            keys, rows = direct.fetch(conn, CLAIM_SKIPPING if skip else CLAIM, values)
            if next_due:
                ((due, *rest),) = direct.fetch(conn, NEXT_DUE_WITH_STOPS if stops else NEXT_DUE, {})[1]
                stop_due = rest[0] if rest else None
        return [loaded(dict(zip(keys, row, strict=True))) for row in rows], due, stop_due

    def save(
        self,
        op: Operation,
        owner: str,
        changes: Mapping[str, Any],
        *,
        audit: Event | None = None,
        audits: Sequence[Event] = (),
    ) -> None:
        """Write a pass's `changes` to its row and renew the lease, with `audit` and `audits`
        (if any) in the same transaction; a move to a final state writes its own audit row too. Raises
        LeaseLost when `owner` no longer holds the row or its state moved since the pass read
        it, ExecutionHeld when another row holds the execution, ValueError for a transition
        the state machine does not have. `op` itself is not changed (the caller does that)."""
        now = self.clock.now()
        values = {
            **changes,
            "updated_at": now,
            "lease_expires_at": now + timedelta(seconds=self.lease_ttl),
            "w_id": op.id,
            "w_owner": owner,
        }
        query = SAVE
        target = changes.get("state")
        if target is not None:
            # Only the machine's transitions, and only from the state this pass saw.
            if not can_move(State(op.state), State(target), op.kind):
                raise ValueError(f"operation {op.id}: no transition {op.state} → {target}")
            query = SAVE_MOVE
            values["w_state"] = op.state
            if target == State.CANCELING and op.stop_id is not None:
                query = SAVE_TAKE_IN_STOP  # not once the stop is aborted (StopAborted)
        try:
            with self.db.core() as conn:
                if direct.write(conn, query, values) != 1:
                    if query is SAVE_TAKE_IN_STOP and self._aborted(conn, values):
                        raise StopAborted(op.id)
                    raise LeaseLost(op.id)
                if target is not None and target in final_states(op.kind) and op.stop_id is not None:
                    # One sync of a stop is settled: if it was the last, the stop is due now.
                    stops.hint(conn, op.id, op.stop_id, now)
                if target is not None and target in final_states(op.kind):
                    # The outcome and its audit row commit together: exactly one each.
                    insert_event(
                        conn,
                        now,
                        actor=op.requested_by,
                        action="start" if op.kind == "start" else "cancel",
                        sync_id=op.sync_id,
                        outcome=str(target),
                        operation_id=op.id,
                        channel_id=op.channel_id,
                    )
                for event in (*audits, audit) if audit is not None else audits:
                    insert_event(conn, now, **event)
        except IntegrityError as error:
            if target not in (State.CANCELING, State.STARTING):
                raise
            # A cancel: another row holds the execution; a start: another start of the sync is live.
            raise ExecutionHeld(op.execution_id or op.sync_id) from error

    @staticmethod
    def _aborted(conn: Connection, values: Mapping[str, Any]) -> bool:
        keys = ("w_id", "w_owner", "w_state")
        return bool(direct.fetch(conn, SAVE_TAKE_ABORTED, {k: values[k] for k in keys})[1])

    def record(self, **event: Unpack[Event]) -> None:
        """An audit row about an operation that changes nothing on it (a decision on its click)."""
        with self.db.core() as conn:
            insert_event(conn, self.clock.now(), **event)

    def release(
        self,
        op_id: int,
        owner: str,
        *,
        next_at: datetime | None = None,
        error: str | None = None,
        changes: Mapping[str, Any] | None = None,
        hinted_at: datetime | None = None,
    ) -> datetime | None:
        """Give the row back, due again at `next_at`, with what the pass read but did not need
        to write at once (`changes`: the run's progress; nothing that records an effect). With
        `error` (a step failed unexpectedly), it is due again AFTER_A_FAILED_STEP from now.
        `hinted_at` is the row's as the pass claimed it: when an event made the row due since
        (bot/db/events.py), it stays due now, whatever `next_at` says. Returns when the row
        is due again (None when this owner no longer held it)."""
        now = self.clock.now()
        values: dict[str, Any] = {"w_id": op_id, "w_owner": owner}
        if changes:
            values.update(changes, updated_at=now)
        values.update(lease_owner=None, lease_expires_at=None)
        query = RELEASE
        if error is not None:
            values["last_error"] = error
            values["next_poll_at"] = now + timedelta(seconds=AFTER_A_FAILED_STEP)
        elif next_at is not None:
            query = RELEASE_AT
            values.update(w_hinted=hinted_at, w_next=next_at, w_now=now)
        with self.db.core() as conn:
            rows = direct.fetch(conn, query, values)[1]
        due: datetime | None = rows[0][0] if rows else None
        return due

    def finish(self, op: Operation, owner: str, changes: Mapping[str, Any]) -> bool:
        """Mark the row done and give it back, unless a click changed it while the pass ran (a
        resume sets resumed_at, a retry bumps cancel_attempt): False, and it gets another pass,
        which renders what the click did."""
        values = {
            **changes,
            "finished_at": self.clock.now(),
            "lease_owner": None,
            "lease_expires_at": None,
            "w_id": op.id,
            "w_owner": owner,
            "w_resumed": op.resumed_at,
            "w_attempt": op.cancel_attempt,
        }
        with self.db.core() as conn:
            return bool(direct.write(conn, FINISH, values))

    def release_all(self, owner: str | None) -> None:
        """Give up every lease `owner` holds (None: every lease, whoever holds it)."""
        query = update(OPS).values(lease_owner=None, lease_expires_at=None)
        if owner is not None:
            query = query.where(OPS.c.lease_owner == owner)
        with self.db.core() as conn:
            conn.execute(query)
