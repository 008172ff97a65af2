"""The operations' clicks (bot/db/operations.py holds the rest of the store): the confirm
click's insert, bounded by CLICK_SECONDS, and the conditional statements of the Resume, reopen
and Try again clicks, each of which one click can win. `OperationStore` inherits these; the
contract (what a click may write, and what a pass) is in bot/db/operations.py's docstring.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, update

from bot.clock import Clock
from bot.db import direct
from bot.db.audit import Event, insert_event
from bot.db.bounds import CLICK_SECONDS
from bot.db.engine import Database
from bot.db.models import OPERATIONS, Operation
from bot.db.operation_statements import HOLDER, INSERT_ID
from bot.operations import State

OPS = OPERATIONS
RETRIED = "sent again"  # the audit outcomes of a "try again" click
NOT_RETRIED = "already retried or finished"


class OperationClicks:
    """The verbs a click calls on `operations` (never under a lease); `OperationStore` provides
    `db` and `clock`."""

    db: Database
    clock: Clock

    # ---- clicks -----------------------------------------------------------------------------

    def record_click(
        self,
        *,
        kind: str,
        sync_id: str,
        execution_id: str,
        team_id: str | None,
        requested_by: str,
        channel_id: str,
        response_url: str | None,
        incident_channel: str | None,
        poll_timeout: float,
        within: float = CLICK_SECONDS,
    ) -> Operation | int:
        """The confirm click, answered within `within` seconds: the operation that holds the run
        already (nothing written), or the new row's ID. Raises a SQLAlchemyError when nothing was
        written (the database failed or was too slow: the insert is then never committed), and
        OutcomeUnknown when the COMMIT went out and no answer came."""
        now = self.clock.now()

        def record(conn: Connection) -> Operation | int:
            # Both statements on the driver's cursor (bot/db/direct.py).
            keys, holders = direct.fetch(conn, HOLDER, {"w_execution": execution_id})
            if holders:
                return Operation(**dict(zip(keys, holders[0], strict=True)))
            return _insert_confirmed(
                conn,
                now,
                kind=kind,
                sync_id=sync_id,
                execution_id=execution_id,
                team_id=team_id,
                requested_by=requested_by,
                channel_id=channel_id,
                response_url=response_url,
                incident_channel=incident_channel,
                poll_timeout=poll_timeout,
            )

        return self.db.core_within(record, within)

    def create(
        self,
        *,
        kind: str,
        sync_id: str,
        execution_id: str,
        team_id: str | None,
        requested_by: str,
        channel_id: str,
        response_url: str | None,
        incident_channel: str | None,
        poll_timeout: float,
    ) -> int:
        """The confirm click's row: `confirmed`, due now, escalated after `poll_timeout` s."""
        now = self.clock.now()
        with self.db.core() as conn:
            return _insert_confirmed(
                conn,
                now,
                kind=kind,
                sync_id=sync_id,
                execution_id=execution_id,
                team_id=team_id,
                requested_by=requested_by,
                channel_id=channel_id,
                response_url=response_url,
                incident_channel=incident_channel,
                poll_timeout=poll_timeout,
            )

    def resume(self, op_id: int, *, by: str) -> bool:
        """Mark a paused schedule resumed by `by`; of several clicks, one wins (True)."""
        now = self.clock.now()
        with self.db.core() as conn:
            won = conn.execute(
                update(OPS)
                .where(OPS.c.id == op_id, OPS.c.paused_at.is_not(None), OPS.c.resumed_at.is_(None))
                .values(resumed_at=now, resumed_by=by, updated_at=now)
            ).rowcount
        return bool(won)

    def undo_resume(self, op_id: int) -> None:
        """Polytomic refused the resume the click won: the button works again."""
        with self.db.core() as conn:
            conn.execute(update(OPS).where(OPS.c.id == op_id).values(resumed_at=None, resumed_by=None))

    def reopen(self, op_id: int, *, audit: Event) -> None:
        """Hand a row back to the tracker (due now, not finished) so it re-renders it from the
        row, with the audit row of what the click did."""
        now = self.clock.now()
        with self.db.core() as conn:
            conn.execute(update(OPS).where(OPS.c.id == op_id).values(finished_at=None, next_poll_at=now))
            insert_event(conn, now, **audit)

    def retry(self, op: Operation, attempt: int, *, poll_timeout: float, actor: str, channel_id: str) -> bool:
        """Start cancel attempt `attempt + 1` on an escalated row still at `attempt`: True for
        the one click that wins; audited either way, in the same transaction."""
        now = self.clock.now()
        with self.db.core() as conn:
            won = conn.execute(
                update(OPS)
                .where(
                    OPS.c.id == op.id,
                    OPS.c.state == State.CANCELING,
                    OPS.c.cancel_attempt == attempt,
                    OPS.c.escalated_at.is_not(None),
                )
                .values(
                    cancel_attempt=attempt + 1,
                    cancel_sent_at=None,
                    escalated_at=None,
                    incident_escalation_ts=None,
                    deadline_at=now + timedelta(seconds=poll_timeout),
                    next_poll_at=now,
                    updated_at=now,
                )
            ).rowcount
            insert_event(
                conn,
                now,
                actor=actor,
                action="cancel.retry",
                sync_id=op.sync_id,
                outcome=RETRIED if won else NOT_RETRIED,
                operation_id=op.id,
                channel_id=channel_id,
            )
        return bool(won)


def _insert_confirmed(conn: Connection, now: datetime, *, poll_timeout: float, **values: Any) -> int:
    rows = direct.fetch(
        conn,
        INSERT_ID,
        {
            **values,
            "state": State.CONFIRMED,
            "created_at": now,
            "updated_at": now,
            "deadline_at": now + timedelta(seconds=poll_timeout),
            "next_poll_at": now,
            "cancel_attempt": 1,
            "attempts": 0,
        },
    )[1]
    return int(rows[0][0])
