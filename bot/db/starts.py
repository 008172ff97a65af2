"""The starts' verb on `operations`: a start click, recorded before the ack.

A start is an operation row of kind "start" (bot.operations: its own transitions). Its
`start_key` is unique: the key of one start prompt's click (a replayed request, a double
click) or of one alert's Restart for one failure, with who clicked, so either makes one row per
person, never two, on any process; the part before KEY_SEPARATOR is the POST's
Idempotency-Key, the same for everyone who clicks the same thing, so Polytomic starts one run.
The tracker (bot.tracker.starts) takes it from there under its lease, through the operations'
store, as for a cancellation.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.bounds import CLICK_SECONDS
from bot.db.engine import Database
from bot.db.models import OPERATIONS, Operation
from bot.operations import State

KEY_SEPARATOR = "~"  # start_key = <Idempotency-Key> ~ <who clicked>


def post_key(start_key: str) -> str:
    """The Idempotency-Key of a start's POST: its row's key without the clicker."""
    return start_key.split(KEY_SEPARATOR, 1)[0]


def record_start(
    db: Database,
    *,
    start_key: str,
    sync_id: str,
    team_id: str | None,
    requested_by: str,
    channel_id: str,
    response_url: str | None,
    poll_timeout: float,
    alert_id: int | None = None,
    thread_ts: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
    within: float = CLICK_SECONDS,
) -> tuple[int, bool]:
    """(the start's row ID, whether this call made it): the row that has this key already,
    else a new one in `confirmed`, due now. Within `within` seconds whatever the database does
    (SQLAlchemyError: nothing written; OutcomeUnknown: the COMMIT got no answer)."""
    now = clock.now()

    def record(session: Session) -> tuple[int, bool]:
        found = session.scalar(select(Operation.id).where(Operation.start_key == start_key))
        if found is not None:
            return int(found), False
        key = (
            session.connection()
            .execute(
                insert(OPERATIONS).values(
                    kind="start",
                    start_key=start_key,
                    sync_id=sync_id,
                    execution_id=None,
                    alert_id=alert_id,
                    thread_ts=thread_ts,
                    team_id=team_id,
                    requested_by=requested_by,
                    channel_id=channel_id,
                    response_url=response_url,
                    state=State.CONFIRMED,
                    created_at=now,
                    updated_at=now,
                    deadline_at=now + timedelta(seconds=poll_timeout),
                    next_poll_at=now,
                    cancel_attempt=1,
                    attempts=0,
                )
            )
            .inserted_primary_key
        )
        assert key is not None
        return int(key[0]), True

    return db.write_within(record, within)
