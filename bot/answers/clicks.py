"""Clicks that change a row after the ack: "Resume schedule" and "Try the cancel again".

Each is a conditional update in the operations store that only one click can win (whoever
clicks, however often, on whichever process); the winner alone talks to Polytomic or wakes the
tracker, and the others are told it was done already. The clicker is decided again, and audited.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.answers.deciding import Decider
from bot.answers.requester import Requester
from bot.db.audit import Event
from bot.db.bounds import OutcomeUnknown
from bot.db.models import Operation
from bot.db.operations import OperationStore
from bot.polytomic import PolytomicClient, PolytomicError
from bot.views import replies


def _clicked(
    operations: OperationStore, decider: Decider, req: Requester, op_id: int, action: str, audit_as: str
) -> Operation | None:
    """The operation a button is about, if it exists and the clicker may do `action` on it."""
    op = operations.get(op_id)
    if op is None:
        req.answer(replies.invalid_button())
        return None
    return op if decider.allows(req, action, op.sync_id, audit_as) else None


def answer_resume(
    operations: OperationStore,
    polytomic: PolytomicClient,
    decider: Decider,
    nudge: Callable[[], None],
    req: Requester,
    op_id: int,
) -> None:
    """Resume the schedule a cancel-and-pause paused: once, by someone who may pause it."""
    op = _clicked(operations, decider, req, op_id, "pause", "resume")
    if op is None:
        return
    if op.paused_at is None:
        req.answer(replies.invalid_button())
        return
    # Of several clicks, one wins the row; only the winner talks to Polytomic.
    try:
        won = operations.resume(op_id, by=req.user_id)
    except SQLAlchemyError:  # one conditional UPDATE: it did not happen
        req.answer(replies.not_changed_database())
        return
    except OutcomeUnknown:
        req.answer(replies.recorded_in_doubt(op.sync_id))
        return
    if not won:
        req.answer(replies.already_resumed(op))
        return
    try:
        polytomic.set_active(op.sync_id, True, idempotency_key=f"op-{op.id}-resume")
    except PolytomicError as error:
        operations.undo_resume(op_id)
        req.answer(replies.polytomic_failure(error, op.sync_id))
        return
    # Hand the row back to the tracker so it re-renders the status message from it.
    resumed = Event(
        actor=req.user_id,
        action="resume",
        sync_id=op.sync_id,
        outcome="schedule resumed",
        operation_id=op.id,
        channel_id=req.channel_id,
    )
    operations.reopen(op_id, audit=resumed)
    nudge()
    req.answer(replies.resumed(op))


def answer_retry(
    operations: OperationStore,
    decider: Decider,
    poll_timeout: float,
    nudge: Callable[[], None],
    req: Requester,
    op_id: int,
    attempt: int,
) -> None:
    """ "Try the cancel again" on an escalated operation: once per attempt, whoever clicks."""
    op = _clicked(operations, decider, req, op_id, "cancel", "cancel.retry")
    if op is None:
        return
    # Conditional on the attempt the button showed: of several clicks, one wins.
    try:
        won = operations.retry(
            op, attempt, poll_timeout=poll_timeout, actor=req.user_id, channel_id=req.channel_id
        )
    except SQLAlchemyError:  # one transaction (the update and its audit row): it did not happen
        req.answer(replies.not_changed_database())
        return
    except OutcomeUnknown:
        req.answer(replies.recorded_in_doubt(op.sync_id))
        return
    if won:
        nudge()
        req.answer(replies.retry_sent())
    else:
        req.answer(replies.retry_refused())
