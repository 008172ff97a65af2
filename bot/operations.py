"""The cancellation state machine: pure transitions and the decisions the tracker takes on them.

    confirmed ──authorize+verify──▶ canceling ──poll──▶ canceled | completed | failed | interrupted
        │                              │
        ├─▶ denied    (clicker may not)  └─▶ rejected (Polytomic refused the cancel)
        ├─▶ stale     (run ended or a newer one started before the click)
        └─▶ duplicate (another click for the same run reached canceling first)

Only `canceling` and the outcomes hold the execution (a partial unique index): a later click
may try again after `denied`, `stale` or `rejected`.
An operation is *finished* (finished_at set) once every Slack effect of its final state has
been delivered; until then the tracker keeps coming back to it. The checks on a row that say
which effects are due (`announced`, `incident_due`, `requester_due`, `pause_due`, `stuck`) are
here too, pure, beside the machine they read.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.db.models import Operation
from bot.polytomic import Execution, Phase, SyncStatus


class State(StrEnum):
    CONFIRMED = "confirmed"
    DENIED = "denied"
    STALE = "stale"
    REJECTED = "rejected"
    CANCELING = "canceling"
    CANCELED = "canceled"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    DUPLICATE = "duplicate"  # another click for the same run got there first
    # A start's own states (kind "start"): see START_TRANSITIONS.
    STARTING = "starting"  # authorized; the POST .../executions is on its way (or in doubt)
    RUNNING = "running"  # Polytomic answered with the execution it started
    ALREADY_RUNNING = "already_running"  # a 409, and the status showed a run going already


OUTCOMES = frozenset({State.CANCELED, State.COMPLETED, State.FAILED, State.INTERRUPTED})
RELEASED = frozenset({State.DENIED, State.STALE, State.REJECTED, State.DUPLICATE})
FINAL = OUTCOMES | RELEASED

_TRANSITIONS: dict[State, frozenset[State]] = {
    State.CONFIRMED: frozenset({State.CANCELING, State.DENIED, State.STALE, State.REJECTED, State.DUPLICATE}),
    State.CANCELING: OUTCOMES | {State.REJECTED},
}


# A start has no execution until Polytomic answers:
#
#     confirmed ──authorize──▶ starting ──POST executions──▶ running ──poll / event──▶ outcome
#        ├─▶ denied              ├─▶ already_running (409, and a run is going)
#        └─▶ duplicate           └─▶ rejected (Polytomic refused)
#            (another start of this sync is live: the partial unique index)
START_OUTCOMES = frozenset({State.COMPLETED, State.FAILED, State.CANCELED, State.INTERRUPTED})
START_RELEASED = frozenset({State.DENIED, State.REJECTED, State.DUPLICATE, State.ALREADY_RUNNING})
START_FINAL = START_OUTCOMES | START_RELEASED
START_TRANSITIONS: dict[State, frozenset[State]] = {
    State.CONFIRMED: frozenset({State.STARTING, State.DENIED, State.DUPLICATE}),
    State.STARTING: frozenset({State.RUNNING, State.REJECTED, State.ALREADY_RUNNING}),
    State.RUNNING: START_OUTCOMES,
}


def can_move(current: State, target: State, kind: str = "cancel") -> bool:
    transitions = START_TRANSITIONS if kind == "start" else _TRANSITIONS
    return target in transitions.get(current, frozenset())


def final_states(kind: str) -> frozenset[State]:
    return START_FINAL if kind == "start" else FINAL


# A terminal model-sync event's type, and the final state it means: the body is signed and
# terminal is final, so a cancellation ended by one needs no status poll. completed_with_errors
# is a completed run (its errors are shown).
_EVENT_OUTCOMES: dict[str, State] = {
    "sync.canceled": State.CANCELED,
    "sync.completed": State.COMPLETED,
    "sync.completed_with_errors": State.COMPLETED,
    "sync.failed": State.FAILED,
}


def event_outcome(event_type: str | None) -> State | None:
    """The final state a terminal event kept on a row (`event_type`) means; None otherwise."""
    return _EVENT_OUTCOMES.get(event_type or "")


def event_fields(op: Operation, now: datetime) -> dict[str, Any]:
    """What a row takes from the terminal event kept on it: its outcome, when it ended, and the
    event's rows, error and sync name where it carries them (a canceled event has no counts: the
    rows last read stay)."""
    ended = event_outcome(op.event_type)
    if ended is None:
        raise ValueError(f"operation {op.id}: no terminal event")
    fields: dict[str, Any] = {
        "state": ended,
        "polytomic_status": str(ended),
        "execution_ended_at": op.event_at or now,
    }
    if op.event_rows is not None:
        fields["rows_written"] = op.event_rows
    if op.event_error:
        fields["execution_errors"] = op.event_error
    if op.sync_name is None and op.event_sync_name is not None:
        fields["sync_name"] = op.event_sync_name
    if op.attempts:
        fields.update(attempts=0, last_error=None)
    return fields


def outcome_of(execution: Execution) -> State | None:
    """The final state a terminal execution status means, or None while it is still going."""
    if execution.status.phase is not Phase.TERMINAL:
        return None
    return State(execution.status.value.strip().lower())


class Binding(StrEnum):
    """Whether the execution the user confirmed is still the one running."""

    CURRENT = "current"
    ENDED = "ended"  # it finished before the click; nothing is running now
    SUPERSEDED = "superseded"  # another execution is running now


@dataclass(frozen=True)
class Verified:
    binding: Binding
    execution: Execution | None  # the confirmed one if known, else what runs now / ran last


def verify(status: SyncStatus, execution_id: str) -> Verified:
    current = status.current_execution
    if current is not None and current.id == execution_id:
        if current.status.is_terminal:
            return Verified(Binding.ENDED, current)
        return Verified(Binding.CURRENT, current)
    if current is not None and not current.status.is_terminal:
        return Verified(Binding.SUPERSEDED, current)
    last = status.last_execution
    return Verified(Binding.ENDED, last if last is not None and last.id == execution_id else None)


def execution_fields(execution: Execution | None) -> dict[str, Any]:
    """What the row keeps of an execution Polytomic reported."""
    if execution is None:
        return {}
    return {
        "polytomic_status": execution.status.value[:32] if execution.status.value else None,
        "rows_written": execution.counts.rows_written,
        "execution_started_at": execution.started_at or execution.created_at,
        "execution_errors": "; ".join(execution.errors)[:2000] or None,
    }


def backoff(attempts: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` consecutive failures: capped, jittered."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def elapsed_seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


# ---- the checks on a row: which effects are due ------------------------------------------------


def announced(op: Operation) -> bool:
    """The channel hears of an operation once it is past the confirm checks."""
    return (
        op.state == State.CANCELING
        or op.state in OUTCOMES
        or (op.state == State.REJECTED and (op.status_ts is not None or op.status_error is not None))
    )


def incident_due(op: Operation) -> bool:
    """The incident channel hears of what the operation's channel hears of, when there is one."""
    return bool(op.incident_channel) and announced(op)


def in_dm(op: Operation) -> bool:
    """Started from the Home tab: no response_url, and the channel is the requester's DM with
    the app, so what they would hear privately is said there."""
    return op.response_url is None and op.channel_id.startswith("D")


def requester_due(op: Operation) -> bool:
    """The requester hears privately when the channel can't be used, or nothing was announced
    (in their DM, for an operation started from the Home tab: the only channel it has)."""
    if in_dm(op):
        return op.state in RELEASED and not announced(op)
    if op.response_url is None:
        return False
    if op.state in RELEASED and not announced(op):
        return True
    return op.status_error is not None


def pause_due(op: Operation) -> bool:
    """Cancel-and-pause: once the run is held (authorized, still the one confirmed), pause the
    schedule *before* sending the cancel, so that no scheduled run can start in between
    (pausing alone would not stop the run in progress); whatever the run's outcome. A schedule
    read as already paused just before (`was_active` False) is left alone."""
    return (
        op.kind == "cancel_and_pause"
        and op.paused_at is None
        and op.pause_error is None
        and op.was_active is not False
        and (op.state == State.CANCELING or op.state in OUTCOMES)
    )


def in_stop(op: Operation) -> bool:
    """One sync of a stop (bot/db/stops.py): the stop's summary speaks for it, so the operation
    posts no message of its own."""
    return op.stop_id is not None


# A step that has failed this many times in a row is shown: the status message says what keeps
# failing and the requester is told once (bot.tracker.steps), while the tracker keeps backing
# off and trying. Nothing is retried in silence for long.
STUCK_AFTER = 3
_STUCK = ":stuck"  # on notified_state: the requester was told this state's step keeps failing


def stuck(op: Operation) -> bool:
    """A step of this unfinished operation keeps failing (`attempts`, `last_error`)."""
    return op.attempts >= STUCK_AFTER and bool(op.last_error) and State(op.state) not in FINAL


def stuck_mark(state: str) -> str:
    """What notified_state holds once the requester has been told that `state` is stuck."""
    return f"{state}{_STUCK}"


def told_stuck(op: Operation) -> bool:
    return op.notified_state == stuck_mark(op.state)
