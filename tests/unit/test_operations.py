"""bot.operations: the cancellation state machine (pure)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.operations import (
    FINAL,
    OUTCOMES,
    RELEASED,
    Binding,
    State,
    backoff,
    can_move,
    elapsed_seconds,
    outcome_of,
    verify,
)
from bot.polytomic import Execution, ExecutionStatus, SyncStatus

CONFIRMED_RUN = "7f6e5d4c-3b2a-4190-8877-665544332211"
NEWER_RUN = "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d"
OLDER_RUN = "99999999-8888-7777-6666-555555555555"

ALLOWED = {
    (State.CONFIRMED, State.CANCELING),
    (State.CONFIRMED, State.DENIED),
    (State.CONFIRMED, State.STALE),
    (State.CONFIRMED, State.REJECTED),
    (State.CONFIRMED, State.DUPLICATE),
    (State.CANCELING, State.CANCELED),
    (State.CANCELING, State.COMPLETED),
    (State.CANCELING, State.FAILED),
    (State.CANCELING, State.INTERRUPTED),
    (State.CANCELING, State.REJECTED),
}


def run(execution_id: str | None, status: str) -> Execution:
    return Execution(id=execution_id, status=ExecutionStatus.parse(status))


# ---- transitions -------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transitions(current: State, target: State) -> None:
    assert can_move(current, target) is True


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in itertools.product(State, State) if pair not in ALLOWED],
)
def test_every_other_transition_is_refused(current: State, target: State) -> None:
    assert can_move(current, target) is False


def test_final_states_are_never_left() -> None:
    for state in FINAL:
        assert not any(can_move(state, target) for target in State)


def test_state_groups() -> None:
    assert {State.CANCELED, State.COMPLETED, State.FAILED, State.INTERRUPTED} == OUTCOMES
    assert {State.DENIED, State.STALE, State.REJECTED, State.DUPLICATE} == RELEASED
    assert FINAL == OUTCOMES | RELEASED
    assert State.CONFIRMED not in FINAL and State.CANCELING not in FINAL


def test_released_states_match_the_partial_unique_index() -> None:
    from bot.db.models import NOT_HOLDING

    assert set(NOT_HOLDING) == {s.value for s in RELEASED} | {State.CONFIRMED.value}


# ---- outcome_of --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("canceled", State.CANCELED),
        ("completed", State.COMPLETED),
        ("failed", State.FAILED),
        ("interrupted", State.INTERRUPTED),
    ],
)
def test_outcome_of_each_terminal_status(status: str, state: State) -> None:
    assert outcome_of(run(CONFIRMED_RUN, status)) is state


@pytest.mark.parametrize(
    "status",
    ["created", "scheduled", "queued", "waiting", "running", "processing", "canceling", "", "exploded"],
)
def test_outcome_of_a_run_still_going_or_unknown_is_none(status: str) -> None:
    assert outcome_of(run(CONFIRMED_RUN, status)) is None


def test_outcome_of_tolerates_the_case_of_a_terminal_status() -> None:
    assert outcome_of(run(CONFIRMED_RUN, "Canceled")) is State.CANCELED


# ---- verify ------------------------------------------------------------------------------


def test_verify_current() -> None:
    current = run(CONFIRMED_RUN, "running")
    checked = verify(SyncStatus(current, run(OLDER_RUN, "completed"), None), CONFIRMED_RUN)
    assert checked.binding is Binding.CURRENT
    assert checked.execution is current


def test_verify_current_while_already_canceling() -> None:
    current = run(CONFIRMED_RUN, "canceling")
    assert verify(SyncStatus(current, None, None), CONFIRMED_RUN).binding is Binding.CURRENT


def test_verify_ended_while_still_reported_as_current() -> None:
    current = run(CONFIRMED_RUN, "completed")
    checked = verify(SyncStatus(current, current, None), CONFIRMED_RUN)
    assert checked.binding is Binding.ENDED
    assert checked.execution is current


def test_verify_ended_and_now_the_last_run() -> None:
    last = run(CONFIRMED_RUN, "canceled")
    checked = verify(SyncStatus(None, last, None), CONFIRMED_RUN)
    assert checked.binding is Binding.ENDED
    assert checked.execution is last


def test_verify_ended_and_something_else_ran_last() -> None:
    checked = verify(SyncStatus(None, run(NEWER_RUN, "completed"), None), CONFIRMED_RUN)
    assert checked.binding is Binding.ENDED
    assert checked.execution is None


def test_verify_superseded_by_a_newer_run() -> None:
    newer = run(NEWER_RUN, "running")
    checked = verify(SyncStatus(newer, run(CONFIRMED_RUN, "completed"), None), CONFIRMED_RUN)
    assert checked.binding is Binding.SUPERSEDED
    assert checked.execution is newer


def test_verify_a_newer_run_that_already_ended_is_not_superseding() -> None:
    newer = run(NEWER_RUN, "failed")
    checked = verify(SyncStatus(newer, newer, None), CONFIRMED_RUN)
    assert checked.binding is Binding.ENDED
    assert checked.execution is None


def test_verify_nothing_at_all() -> None:
    checked = verify(SyncStatus(None, None, None), CONFIRMED_RUN)
    assert checked.binding is Binding.ENDED
    assert checked.execution is None


def test_verify_a_run_without_an_id_is_never_the_confirmed_one() -> None:
    checked = verify(SyncStatus(run(None, "running"), None, None), CONFIRMED_RUN)
    assert checked.binding is Binding.SUPERSEDED


# ---- backoff -----------------------------------------------------------------------------


@pytest.mark.parametrize("attempts", [0, 1, 2, 3, 5, 10, 60, 1000])
def test_backoff_stays_within_half_to_full_capped_ceiling(attempts: int) -> None:
    base, cap = 2.0, 60.0
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    rng = random.Random(attempts)
    samples = [backoff(attempts, base=base, cap=cap, rng=rng) for _ in range(200)]
    assert all(ceiling / 2 <= s <= ceiling for s in samples)
    assert max(samples) <= cap
    assert len(set(samples)) > 1  # jittered


def test_backoff_grows_then_caps() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    tops = [backoff(n, base=1.0, cap=30.0, rng=Top()) for n in range(1, 9)]
    assert tops == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff(0, base=1.0, cap=30.0, rng=Top()) == 1.0


def test_backoff_never_below_half_of_base() -> None:
    class Bottom(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a

    assert backoff(1, base=4.0, cap=100.0, rng=Bottom()) == 2.0
    assert backoff(50, base=4.0, cap=100.0, rng=Bottom()) == 50.0


def test_backoff_without_an_rng_uses_the_module_random() -> None:
    assert 0.5 <= backoff(1, base=1.0, cap=10.0) <= 1.0


# ---- elapsed_seconds ---------------------------------------------------------------------


def test_elapsed_seconds() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert elapsed_seconds(start, start + timedelta(seconds=90.4)) == 90
    assert elapsed_seconds(start, start - timedelta(seconds=5)) == 0
    assert elapsed_seconds(None, start) is None
    assert elapsed_seconds(start, None) is None
