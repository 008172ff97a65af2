"""The cancellation state machine: pure transitions and the decisions the tracker takes on them.

    confirmed ──authorize+verify──▶ canceling ──poll──▶ canceled | completed | failed | interrupted
        │                              │
        ├─▶ denied    (clicker may not)  └─▶ rejected (Polytomic refused the cancel)
        ├─▶ stale     (run ended or a newer one started before the click)
        └─▶ duplicate (another click for the same run reached canceling first)

Only `canceling` and the outcomes hold the execution (a partial unique index): a later click
may try again after `denied`, `stale` or `rejected`.
An operation is *finished* (finished_at set) once every Slack effect of its final state has
been delivered; until then the tracker keeps coming back to it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

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


OUTCOMES = frozenset({State.CANCELED, State.COMPLETED, State.FAILED, State.INTERRUPTED})
RELEASED = frozenset({State.DENIED, State.STALE, State.REJECTED, State.DUPLICATE})
FINAL = OUTCOMES | RELEASED

_TRANSITIONS: dict[State, frozenset[State]] = {
    State.CONFIRMED: frozenset({State.CANCELING, State.DENIED, State.STALE, State.REJECTED, State.DUPLICATE}),
    State.CANCELING: OUTCOMES | {State.REJECTED},
}


def can_move(current: State, target: State) -> bool:
    return target in _TRANSITIONS.get(current, frozenset())


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


def backoff(attempts: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` consecutive failures: capped, jittered."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def elapsed_seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))
