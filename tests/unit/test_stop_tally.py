"""bot/stops.py: what a stop's syncs came to, when it is final, which schedules a resume may
reactivate (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.db.models import Operation, StopSync
from bot.stops import may_resume, pending_pauses, resumable_members, resumable_ops, tally
from bot.views import notes
from tests.unit.views.stop_cases import make_stop

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


def op(i: int, state: str, **fields: Any) -> Operation:
    values: dict[str, Any] = {
        "id": i,
        "kind": "cancel",
        "sync_id": f"s{i}",
        "sync_name": f"Sync {i}",
        "state": state,
    }
    values.update(fields)
    return Operation(**values)


def member(i: int, **fields: Any) -> StopSync:
    return StopSync(id=i, stop_id=7, sync_id=f"s{i}", sync_name=f"Sync {i}", **fields)


def test_the_tally_of_a_cancel() -> None:
    ops = [
        op(1, "canceled"),
        op(2, "canceling"),
        op(3, "confirmed"),
        op(4, "completed"),
        op(5, "stale"),
        op(6, "denied", last_error="no"),
        op(7, "denied", last_error=notes.ABORTED),
        op(8, "failed", execution_errors="boom"),
    ]
    t = tally(make_stop(size=8), [], ops)
    assert (t.canceled, t.canceling, t.waiting, t.completed, t.changed, t.denied, t.not_sent, t.failed) == (
        1,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
    )
    assert not t.settled
    assert [f.sync_id for f in t.failures] == ["s5", "s6", "s8"]  # aborted is not a failure
    settled = tally(make_stop(size=2), [], [op(1, "canceled"), op(2, "completed")])
    assert settled.settled and settled.failures == ()


def test_a_pause_is_pending_until_read_and_resume_takes_only_what_was_active() -> None:
    stop = make_stop(kind="pause", size=4)
    members = [
        member(1, was_active=True, paused_at=NOW),
        member(2, was_active=False),
        member(3, pause_error="refused"),
        member(4),
    ]
    assert [m.sync_id for m in pending_pauses(stop, members)] == ["s4"]
    t = tally(stop, members, [])
    assert (t.paused, t.already_paused, t.pause_failed, t.pausing) == (1, 1, 1, 1)
    assert [m.sync_id for m in resumable_members(stop, members)] == ["s1"]
    assert may_resume(stop, members, []) == 1
    aborted = make_stop(kind="pause", size=4, aborted_at=NOW)
    assert pending_pauses(aborted, members) == [] and tally(aborted, members, []).pausing == 0


def test_cancel_and_pause_resumes_only_schedules_it_paused() -> None:
    ops = [
        op(1, "canceled", kind="cancel_and_pause", was_active=True, paused_at=NOW),
        op(2, "canceled", kind="cancel_and_pause", was_active=False),
        op(3, "canceled", kind="cancel_and_pause", was_active=True, paused_at=NOW, resumed_at=NOW),
    ]
    assert [o.sync_id for o in resumable_ops(ops)] == ["s1"]
    t = tally(make_stop(kind="cancel_and_pause", size=3), [], ops)
    assert (t.paused, t.already_paused, t.resumed) == (2, 1, 1)


def test_a_resume_that_failed_is_counted_and_not_tried_again() -> None:
    ops = [
        op(1, "canceled", kind="cancel_and_pause", was_active=True, paused_at=NOW, resume_error="refused"),
        op(2, "canceled", kind="cancel_and_pause", was_active=True, paused_at=NOW),
    ]
    assert [o.sync_id for o in resumable_ops(ops)] == ["s2"]
    t = tally(make_stop(kind="cancel_and_pause", size=2), [], ops)
    assert t.resume_failed == 1 and [f.sync_id for f in t.failures] == ["s1"]
