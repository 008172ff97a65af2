"""bot/db/stop_statements.py's prebuilt statements as the stop store runs them, on SQLite and
PostgreSQL: the tally's plain rows hold what the ORM's whole rows do (with the same Python
types), the aborted check and the look for a due stop read what is committed, a pass's finish
loses to a hint or a Resume click during it, a hint leaves a finished stop alone, and a
Resume of a cancel-and-pause sync's schedule is recorded once."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pytest
from sqlalchemy import event

from bot.clock import ManualClock
from bot.db.engine import Database
from bot.db.operations import OperationStore
from bot.db.stops import LeaseLost, StopStore, TalliedOperation
from bot.stops import may_resume, resumable_ops, tally
from tests.harness import confirmed_stop


@pytest.fixture
def stores(migrated_db: Database) -> tuple[StopStore, OperationStore, ManualClock]:
    clock = ManualClock()
    return (
        StopStore(migrated_db, clock=clock, lease_ttl=30),
        OperationStore(migrated_db, clock=clock, lease_ttl=30),
        clock,
    )


def test_the_tallys_rows_hold_what_the_whole_rows_do(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, ops, clock = stores
    stop_id = confirmed_stop(stops, 6, with_pause=True)
    a, b, c, d, e, _f = ops.claim("w", 10)
    for op in (a, b, c, d):
        ops.save(op, "w", {"state": "canceling"})
        op.state = "canceling"
    clock.advance(1)
    ops.save(a, "w", {"was_active": True, "paused_at": clock.now()})
    ops.save(a, "w", {"state": "canceled", "resumed_at": clock.now(), "resumed_by": "U2"})
    ops.save(b, "w", {"was_active": False, "state": "failed", "execution_errors": "boom"})
    ops.save(c, "w", {"pause_error": "refused", "resume_error": "gone"})
    ops.save(d, "w", {"was_active": True, "paused_at": clock.now()})
    ops.save(e, "w", {"state": "denied", "last_error": "no grant", "sync_name": None})
    stop = stops.get(stop_id)
    assert stop is not None
    narrow, whole = stops.tallied(stop_id), stops.operations(stop_id)
    assert len(narrow) == len(whole) == 6
    for row, op in zip(narrow, whole, strict=True):
        for field in fields(TalliedOperation):
            value = getattr(row, field.name)
            assert value == getattr(op, field.name), (op.id, field.name)
            assert type(value) is type(getattr(op, field.name)), (op.id, field.name)  # a bool is a bool
    assert narrow[0].paused_at is not None and narrow[0].paused_at.tzinfo is not None
    assert narrow[0].was_active is True and narrow[1].was_active is False
    assert tally(stop, [], narrow) == tally(stop, [], whole)
    assert tally(stop, [], narrow).failures and tally(stop, [], narrow).paused == 2
    assert may_resume(stop, [], narrow) == may_resume(stop, [], whole) == 1
    assert [o.id for o in resumable_ops(narrow)] == [d.id]
    with pytest.raises(AttributeError):
        _ = narrow[0].response_url  # type: ignore[attr-defined]  # not read: never a silent None


def test_a_resume_of_a_sync_s_schedule_lands_once(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, ops, clock = stores
    stop_id = confirmed_stop(stops, 1, with_pause=True)
    [op] = ops.claim("w", 5)
    ops.save(op, "w", {"state": "canceling", "was_active": True, "paused_at": clock.now()})
    [stop] = stops.claim("me", 5)
    [row] = stops.tallied(stop_id)
    first = clock.now() + timedelta(seconds=1)
    stops.save_operation_resume(stop, "me", row, {"resumed_at": first, "resumed_by": "U2"})
    assert (row.resumed_at, row.resumed_by) == (first, "U2")  # the pass's tally sees it at once
    [stale] = stops.tallied(stop_id)
    stale.resumed_at = None  # as a pass that read it before the first resume landed
    stops.save_operation_resume(
        stop, "me", stale, {"resumed_at": first + timedelta(seconds=5), "resumed_by": "U3"}
    )
    [again] = stops.operations(stop_id)
    assert (again.resumed_at, again.resumed_by) == (first, "U2")  # only a schedule not resumed yet
    clock.advance(31)
    assert stops.claim("other", 5)  # the lease ran out: the old holder writes nothing more
    with pytest.raises(LeaseLost):
        stops.save_operation_resume(stop, "me", row, {"resume_error": "late"})


def test_aborted_and_the_look_for_a_due_stop_read_what_is_committed(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, _ops, clock = stores
    assert stops.aborted(12345) is False  # no such stop
    assert stops.claim("me", 1) == []  # nothing due
    stop_id = confirmed_stop(stops, 2)
    assert stops.aborted(stop_id) is False
    [stop] = stops.claim("me", 1)
    assert stop.lease_owner == "me" and stop.lease_expires_at == clock.now() + timedelta(seconds=30)
    assert stops.claim("other", 1) == []  # leased
    assert stops.abort(stop_id, by="U2", channel_id="C1") is True
    assert stops.aborted(stop_id) is True
    clock.advance(31)
    assert [s.id for s in stops.claim("other", 1)] == [stop_id]  # the lease ran out


def test_a_finish_loses_to_a_hint_or_a_resume_during_the_pass(
    stores: tuple[StopStore, OperationStore, ManualClock],
) -> None:
    stops, ops, clock = stores
    stop_id = confirmed_stop(stops, 1)
    [stop] = stops.claim("me", 5)
    [only] = ops.claim("w", 5)
    clock.advance(0.5)
    ops.save(only, "w", {"state": "stale"})  # its last operation settled: a hint, during the pass
    assert stops.finish(stop, "me") is False
    stops.release(stop, "me", next_at=clock.now() + timedelta(seconds=30), hinted_at=stop.hinted_at)
    [stop] = stops.claim("me", 5)  # due now, the hint's
    stops.save(stop, "me", {"final_at": clock.now()})
    clock.advance(0.5)
    assert stops.ask_resume(stop_id, by="U2", channel_id="C1") is True  # during the pass
    assert stops.finish(stop, "me") is False
    stops.release(stop, "me", next_at=clock.now() + timedelta(seconds=30), hinted_at=stop.hinted_at)
    [stop] = stops.claim("me", 5)
    assert stops.finish(stop, "other") is False  # not its lease
    assert stops.finish(stop, "me") is True
    finished = stops.get(stop_id)
    assert finished is not None and finished.finished_at == clock.now() and finished.lease_owner is None


def test_a_hint_leaves_a_finished_stop_alone(stores: tuple[StopStore, OperationStore, ManualClock]) -> None:
    stops, ops, clock = stores
    stop_id = confirmed_stop(stops, 1)
    [only] = ops.claim("w", 5)
    [stop] = stops.claim("me", 5)
    assert stops.finish(stop, "me") is True  # finished early (as a test may make it)
    before = stops.get(stop_id)
    assert before is not None
    clock.advance(5)
    ops.save(only, "w", {"state": "stale"})  # settles: its hint finds the stop finished
    after = stops.get(stop_id)
    assert after is not None
    assert (after.next_poll_at, after.hinted_at) == (before.next_poll_at, before.hinted_at)


def test_a_listener_sees_the_lean_reads(stores: tuple[StopStore, OperationStore, ManualClock]) -> None:
    stops, _ops, _clock = stores
    stop_id = confirmed_stop(stops, 1)
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    engine = stops.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert stops.aborted(stop_id) is False
        assert stops.abort(stop_id, by="U2", channel_id="C1") is True
        assert stops.aborted(stop_id) is True
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum("aborted_at" in s and s.lstrip().upper().startswith("SELECT") for s in seen) == 2
