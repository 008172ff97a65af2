"""bot/db/stops.py and stop_clicks.py against a real database (SQLite and PostgreSQL): each click is won once,
the prompt expires, operations are made once per sync, a pass writes only under its lease, and
an operation's state change makes its stop due (throttled, or at once for the last one)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.db.engine import Database
from bot.db.operations import LeaseLost as LeaseLostOp
from bot.db.operations import OperationStore, StopAborted
from bot.db.stops import AlreadyConfirmed, Expired, LeaseLost, Picked, StopStore
from tests.harness import confirmed_stop


@pytest.fixture
def stores(migrated_db: Database) -> tuple[StopStore, OperationStore, ManualClock]:
    db = migrated_db
    clock = ManualClock()
    return StopStore(db, clock=clock, lease_ttl=30), OperationStore(db, clock=clock, lease_ttl=30), clock


def _prompt(stops: StopStore, count: int = 3) -> str:
    picked = [Picked(f"sync-{i}", f"Sync {i}", f"exec-{i}") for i in range(count)]
    return stops.save_prompt(
        verb="cancel",
        command="cancel all running",
        label="",
        requested_by="U1",
        team_id="T1",
        channel_id="C1",
        syncs=picked,
    )


def _confirm(stops: StopStore, prompt_id: str, *, with_pause: bool = False) -> object:
    return stops.confirm(
        prompt_id,
        with_pause=with_pause,
        clicker="U1",
        response_url=None,
        incident_channel=None,
        poll_timeout=600,
    )


def test_confirm_once_and_one_operation_per_sync(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, _ops, _clock = stores
    prompt_id = _prompt(stops)
    stop_id = _confirm(stops, prompt_id)
    assert isinstance(stop_id, int)
    assert _confirm(stops, prompt_id) == AlreadyConfirmed(stop_id)
    assert _confirm(stops, prompt_id, with_pause=True) == AlreadyConfirmed(stop_id)
    ops = stops.operations(stop_id)
    assert sorted((o.sync_id, o.execution_id, o.kind, o.state) for o in ops) == [
        (f"sync-{i}", f"exec-{i}", "cancel", "confirmed") for i in range(3)
    ]
    assert len(stops.members(stop_id)) == 3
    assert _confirm(stops, "x" * 22) is None


def test_an_expired_prompt_confirms_nothing(stores: tuple[StopStore, OperationStore, ManualClock]) -> None:
    stops, _ops, clock = stores
    prompt_id = _prompt(stops)
    clock.advance(timedelta(minutes=10, seconds=1).total_seconds())
    assert isinstance(_confirm(stops, prompt_id), Expired)
    assert stops.operations(1) == []


def test_abort_and_resume_are_won_once(stores: tuple[StopStore, OperationStore, ManualClock]) -> None:
    stops, _ops, _clock = stores
    stop_id = _confirm(stops, _prompt(stops))
    assert isinstance(stop_id, int)
    assert stops.ask_resume(stop_id, by="U2", channel_id="C1") is False  # not final yet
    assert stops.abort(stop_id, by="U2", channel_id="C1") is True
    assert stops.abort(stop_id, by="U3", channel_id="C1") is False
    [stop] = stops.claim("me", 5)
    stops.save(stop, "me", {"final_at": stop.created_at})
    assert stops.ask_resume(stop_id, by="U2", channel_id="C1") is True
    assert stops.ask_resume(stop_id, by="U2", channel_id="C1") is False


def test_a_pass_writes_only_under_its_lease(stores: tuple[StopStore, OperationStore, ManualClock]) -> None:
    stops, _ops, clock = stores
    stop_id = _confirm(stops, _prompt(stops))
    [stop] = stops.claim("me", 5)
    assert stops.claim("other", 5) == []
    clock.advance(31)  # the lease expired: another process takes over
    [taken] = stops.claim("other", 5)
    assert taken.id == stop_id
    with pytest.raises(LeaseLost):
        stops.save(stop, "me", {"summary_ts": "1.2"})


def test_the_last_operation_to_settle_makes_its_stop_due_at_once(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, ops, clock = stores
    stop_id = _confirm(stops, _prompt(stops, count=2))
    [stop] = stops.claim("me", 5)
    later = clock.now() + timedelta(seconds=2)
    stops.release(stop, "me", next_at=later, hinted_at=stop.hinted_at)
    first, second = ops.claim("w", 5)
    ops.save(first, "w", {"state": "canceling"})
    ops.save(second, "w", {"state": "canceling"})
    first.state = second.state = "canceling"
    clock.advance(0.5)
    ops.save(first, "w", {"state": "canceled"})
    assert stops.get(stop_id).next_poll_at == later  # another is still going: at its own pace
    ops.save(second, "w", {"state": "canceled"})
    assert stops.get(stop_id).next_poll_at == clock.now()  # the last one: the final summary at once


def test_a_hint_during_a_pass_keeps_the_stop_due_now(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, ops, clock = stores
    stop_id = _confirm(stops, _prompt(stops, count=1))
    [stop] = stops.claim("me", 5)
    [only] = ops.claim("w", 5)
    ops.save(only, "w", {"state": "stale"})  # settled while the stop's pass runs
    clock.advance(0.5)
    stops.release(stop, "me", next_at=clock.now() + timedelta(seconds=30), hinted_at=stop.hinted_at)
    assert stops.get(stop_id).next_poll_at == clock.now()
    assert [s.id for s in stops.claim("me", 5)] == [stop_id]


def test_an_abort_committed_after_the_claim_stops_the_take_of_the_run(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    """The move to canceling (after which the cancel goes) is conditional on the stop not being
    aborted, in the write itself: an abort that lands between a pass's claim (and its check)
    and that write still holds. Another stop's syncs, and the lease's own check, are unaffected."""
    stops, ops, _clock = stores
    aborted_stop = _confirm(stops, _prompt(stops, count=2))
    other_stop = confirmed_stop(stops, 1, picked=[Picked("sync-other", "Other", "exec-other")])
    assert isinstance(aborted_stop, int) and isinstance(other_stop, int)
    claimed = {o.execution_id: o for o in ops.claim("w", 5)}
    assert sorted(claimed) == ["exec-0", "exec-1", "exec-other"]
    ops.save(claimed["exec-0"], "w", {"state": "canceling"})  # took its run before the abort
    assert stops.abort(aborted_stop, by="U2", channel_id="C1") is True
    with pytest.raises(StopAborted):
        ops.save(claimed["exec-1"], "w", {"state": "canceling"})
    assert {o.execution_id: o.state for o in stops.operations(aborted_stop)} == {
        "exec-0": "canceling",
        "exec-1": "confirmed",  # nothing written: the pass records the denial next
    }
    ops.save(claimed["exec-other"], "w", {"state": "canceling"})
    assert [o.state for o in stops.operations(other_stop)] == ["canceling"]
    # A row no longer ours is a lost lease, aborted or not.
    [again] = [o for o in stops.operations(aborted_stop) if o.execution_id == "exec-1"]
    with pytest.raises(LeaseLostOp):
        ops.save(again, "someone-else", {"state": "canceling"})
