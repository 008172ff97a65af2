"""The live status message of a start (`/polytomic start`, or an alert's Restart), and the
requester's private note when the start was not made. Rendered from the operation row alone;
the status message is kept in line by the same post machinery as a cancellation's."""

from __future__ import annotations

from datetime import datetime

from bot.db.models import Operation
from bot.operations import State, elapsed_seconds
from bot.views.blocks import (
    MAX_ERROR,
    Builder,
    View,
    bold,
    clip,
    duration,
    escape,
    id_code,
    rows,
    sync_label,
    trusted,
    user,
)


def start_headline(op: Operation, now: datetime) -> str:
    asked = f"{user(op.requested_by)} started {sync_label(op.sync_name, op.sync_id)}"
    state = State(op.state)
    took = elapsed_seconds(op.execution_started_at or op.created_at, op.execution_ended_at)
    if state is State.COMPLETED:
        done = (
            f"{asked}: the run {bold('completed')} after {duration(took)} ({rows(op.rows_written)} written)."
        )
        if op.execution_errors:
            done += f" With errors: {escape(clip(op.execution_errors, MAX_ERROR))}"
        return done
    if state is State.FAILED:
        error = escape(clip(op.execution_errors or "no error message", MAX_ERROR))
        return f"{asked}: the run {bold('failed')}. Polytomic's error: {error}"
    if state is State.CANCELED:
        return f"{asked}: the run was {bold('canceled')} ({rows(op.rows_written)} written)."
    if state is State.INTERRUPTED:
        return f"{asked}: the run was {bold('interrupted')} ({rows(op.rows_written)} written)."
    if state is State.REJECTED:
        return f"{asked}: {bold('not started')}. {escape(clip(op.last_error or 'unknown error', MAX_ERROR))}"
    if state is State.ALREADY_RUNNING:
        return f"{asked}: a run was {bold('already going')}, so none was started."
    if state is State.RUNNING:
        return f"{asked}: {bold('running')} for {duration(elapsed_seconds(op.created_at, now))}…"
    return f"{asked}: starting…"


def start_status(op: Operation, now: datetime) -> View:
    notes = []
    if op.state == State.RUNNING:
        notes.append(f"{rows(op.rows_written)} so far")
    elif op.state == State.STARTING and op.last_error:
        notes.append(f"Waiting for Polytomic to take the start: {escape(clip(op.last_error, 200))}")
    run = f" · execution {id_code(op.execution_id)}" if op.execution_id else ""
    notes.append(f"Sync {id_code(op.sync_id)}{run}")
    return Builder().section(start_headline(op, now)).context("\n".join(notes)).view()


def start_not_made(op: Operation) -> View:
    """Told to the requester alone: denied, or another start of the sync is live. The row's
    note is a source kept by the tracker (bot.views.notes)."""
    if op.state == State.DUPLICATE:
        text = (
            f"A start of {sync_label(op.sync_name, op.sync_id)} is already under way; nothing more was sent."
        )
    else:
        text = trusted(op.last_error or "That start was not made.")
    return Builder().section(text).view()
