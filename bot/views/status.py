"""The channel status message of one operation, its headline, and the requester's private note.

Rendered from the operation's row alone (and the time), so whichever tracker process holds the
row renders the same message. The headline (who asked to cancel which sync, and what happened)
is also the first line of every incident post (`bot.views.incident`), and the retry button is
shared with the incident escalation.
"""

from __future__ import annotations

from datetime import datetime

from bot.db.models import Operation
from bot.operations import OUTCOMES, State, elapsed_seconds, in_dm, stuck
from bot.views.blocks import (
    MAX_ERROR,
    Block,
    Builder,
    View,
    bold,
    button,
    channel,
    clip,
    code,
    duration,
    escape,
    icon,
    ids,
    rows,
    status_text,
    sync_label,
    user,
    when,
)
from bot.views.buttons import RESUME_ACTION, RETRY_ACTION, resume_value, retry_value

PROGRESS_EVERY = 30.0  # seconds: progress alone (rows, elapsed time) refreshes no faster


def asked_from(op: Operation) -> str:
    """' in <#C…>', the channel the cancel came from; a cancel started from the Home tab has the
    requester's DM with the app as its channel, which is not named elsewhere."""
    return " from the Home tab" if in_dm(op) else channel(op.channel_id)


def headline(op: Operation, now: datetime, *, where: bool = False) -> str:
    """Who asked to cancel which sync (in which channel, for posts elsewhere) and what
    happened: the first line of the status message and of every incident post."""
    label = sync_label(op.sync_name, op.sync_id)
    if op.kind == "cancel_and_pause":
        label += " (and a pause of its schedule)"
    asked = f"{user(op.requested_by)} requested cancellation of {label}"
    if where:
        asked += asked_from(op)
    state = State(op.state)
    took = elapsed_seconds(op.cancel_sent_at or op.created_at, op.execution_ended_at)
    if state is State.CANCELED:
        return (
            f"{asked}: {bold('canceled')} after {duration(took)}, "
            f"{rows(op.rows_written)} written before it stopped."
        )
    if state is State.COMPLETED:
        done = (
            f"{asked}: the run {bold('completed')} before the cancel took effect "
            f"({rows(op.rows_written)} written)."
        )
        if op.execution_errors:  # completed with errors: show them
            done += f" With errors: {escape(clip(op.execution_errors, MAX_ERROR))}"
        return done
    if state is State.FAILED:
        error = op.execution_errors or "no error message"
        return (
            f"{asked}: the run {bold('failed')} before it could be canceled. "
            f"Polytomic's error: {escape(clip(error, MAX_ERROR))}"
        )
    if state is State.INTERRUPTED:
        return f"{asked}: the run was {bold('interrupted')} ({rows(op.rows_written)} written)."
    if state is State.REJECTED:
        reason = escape(clip(op.last_error or "unknown error", MAX_ERROR))
        return f"{asked}: {bold('not canceled')}. {reason}"
    if op.escalated_at is not None:
        waited = elapsed_seconds(op.created_at, now) or 0
        minutes = max(1, waited // 60)
        return f"{asked}: {bold('still canceling')} after {minutes} minute{'s' if minutes > 1 else ''}."
    return f"{asked}: canceling…"


def shows_progress(op: Operation) -> bool:
    """Whether the status message has a progress line (rows, elapsed time): while canceling,
    neither stuck nor waiting for Polytomic to take the cancel. Without one, the message is the
    same with progress=True as with progress=False (a pass renders it once)."""
    return op.state == State.CANCELING and not stuck(op) and not (op.cancel_sent_at is None and op.last_error)


def status_message(op: Operation, now: datetime, *, progress: bool = True) -> View:
    """The channel status message. With progress=False, only what changes with the state:
    the tracker edits the message when that part changes, and for progress at most every
    PROGRESS_EVERY seconds."""
    notes: list[str] = []
    if progress and shows_progress(op):
        waited = duration(elapsed_seconds(op.created_at, now))
        seen = f" · Polytomic status: {status_text(op.polytomic_status)}" if op.polytomic_status else ""
        notes.append(f"Canceling for {waited}{seen} · {rows(op.rows_written)} so far")
    elif op.state == State.CANCELING:
        if stuck(op):
            notes.append(f"{icon(':warning:')}{trouble(op)}")
        elif op.cancel_sent_at is None and op.last_error:
            notes.append(f"Waiting for Polytomic to take the cancel: {escape(clip(op.last_error, 200))}")
    notes.extend(_schedule_notes(op))
    if op.incident_error:
        notes.append(
            f"{icon(':warning:')}The incident channel notice failed: {escape(clip(op.incident_error, 200))}"
        )
    notes.append(ids(op.sync_id, op.execution_id or "?"))
    builder = Builder().section(headline(op, now)).context("\n".join(notes))
    if op.state == State.CANCELING and op.escalated_at is not None:
        builder.actions("cancel_retry", [retry_button(op)])
    if op.state in OUTCOMES and op.paused_at is not None and op.resumed_at is None:
        builder.actions("resume", [button("Resume schedule", RESUME_ACTION, resume_value(op.id))])
    return builder.view()


def trouble(op: Operation) -> str:
    """What keeps failing on a stuck operation (bot.operations.stuck), in the status message
    and in the requester's note alike."""
    if op.state == State.CONFIRMED:
        what = "check and record the cancel"
    elif op.cancel_sent_at is None:
        what = "send the cancel"
    else:
        what = "follow the run"
    return (
        f"Trying to {what} has failed {op.attempts} times in a row: "
        f"{escape(clip(op.last_error or 'unknown error', 200))}. "
        "I keep trying, less and less often."
    )


def stuck_note(op: Operation, now: datetime) -> View:
    """Told to the requester once when a step of their cancellation keeps failing."""
    if op.state == State.CONFIRMED:  # nothing was announced yet: no headline to repeat
        head = f"Your cancellation of {sync_label(op.sync_name, op.sync_id)} is not going through yet."
    else:
        head = headline(op, now)
    return (
        Builder()
        .section(head)
        .context(f"{icon(':warning:')}{trouble(op)}\n{ids(op.sync_id, op.execution_id or '?')}")
        .view()
    )


def _schedule_notes(op: Operation) -> list[str]:
    if op.kind != "cancel_and_pause":
        return []
    if op.resumed_at is not None:
        return [f"Schedule paused, then resumed by {user(op.resumed_by or '?')} {when(op.resumed_at)}."]
    if op.paused_at is not None:
        return ["Schedule paused: no new scheduled runs until someone resumes it."]
    if op.pause_error is not None:
        return [f"{icon(':warning:')}The schedule could not be paused: {escape(clip(op.pause_error, 200))}"]
    if op.was_active is False:
        return ["The schedule was already paused: left as it was."]
    return ["The schedule will be paused before the cancel is sent."]


def retry_button(op: Operation) -> Block:
    """Try the cancel again, bound to the attempt shown, so a second click on it is a no-op."""
    return button("Try the cancel again", RETRY_ACTION, retry_value(op.id, op.cancel_attempt), "danger")


def requester_note(op: Operation, now: datetime) -> View:
    """Told to the requester alone when the channel message could not be posted."""
    invite = ""
    if op.status_error in ("not_in_channel", "channel_not_found"):
        invite = f"\nI can't post in this channel: {code('/invite')} me to see live status here."
    return Builder().section(headline(op, now) + invite).view()
