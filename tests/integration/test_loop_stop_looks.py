"""The tracker's loop looks for a due stop (a read transaction at least, StopStore.claim) only
when its tick's claim of operations just read that an unleased stop is due, and anyway every
STOP_RECHECK seconds (a lease expired elsewhere, which that read cannot see): a stream of
cancellations with no stop pays for no stop looks. The loop's tick is driven by hand here, the
passes it hands out recorded instead of run; the database is a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.db.models import Operation, Stop
from bot.db.stops import StopStore
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.harness import TrackerWorld, confirmed_stop, tracker_world


@pytest.fixture
def world(slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str) -> Iterator[TrackerWorld]:
    with tracker_world(TrackerWorld, slack, polytomic, sqlite_url) as world:
        yield world


def _counted_looks(stops: StopStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every look for a stop (a claim of the stops' table) from now on, by its limit."""
    looks: list[int] = []
    claim = stops.claim

    def counted(owner: str, limit: int) -> list[Stop]:
        looks.append(limit)
        return claim(owner, limit)

    monkeypatch.setattr(stops, "claim", counted)
    return looks


def test_a_stop_is_looked_for_when_the_claim_read_says_one_is_due(
    world: TrackerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = world.tracker
    stops = tracker.stops
    assert stops is not None
    looks = _counted_looks(stops, monkeypatch)
    handed: list[int] = []

    def work_stop(stop: Stop) -> None:  # recorded, not passed
        handed.append(stop.id)
        with tracker._inflight_changed:
            tracker._stops_inflight.discard(stop.id)

    def work(op: Operation) -> None:
        with tracker._inflight_changed:
            tracker._inflight.discard(op.id)

    monkeypatch.setattr(tracker, "_work_stop", work_stop)
    monkeypatch.setattr(tracker, "_work", work)

    tracker.tick()  # the first tick looks whatever the read said (STOP_RECHECK)
    assert len(looks) == 1 and handed == []
    for _ in range(5):
        tracker._next_stop_look = 0.0  # as if STOP_LOOK had passed each time
        tracker.tick()
    assert len(looks) == 1  # no stop at all: the claims' reads said so, no look

    stop_id = confirmed_stop(stops, 2)  # due now
    tracker._next_stop_look = 0.0
    tracker.tick()
    assert handed == [stop_id] and len(looks) == 2

    tracker._next_stop_look = 0.0
    tracker.tick()  # the stop is leased now (ours): the read sees no unleased stop due
    assert len(looks) == 2
    tracker._next_stop_look = tracker._next_stop_recheck = 0.0  # STOP_RECHECK passed
    tracker.tick()
    assert len(looks) == 3 and handed == [stop_id]  # looked; still leased, so nothing new


def test_a_starved_loop_looks_for_a_stop_every_stop_look(
    world: TrackerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every slot taken the tick claims no operations, so reads nothing: it looks for a
    stop every STOP_LOOK as before (a stop's summary never waits for its cancels to drain)."""
    tracker = world.tracker
    stops = tracker.stops
    assert stops is not None
    looks = _counted_looks(stops, monkeypatch)
    with tracker._inflight_changed:
        tracker._inflight.update(range(-tracker.capacity, 0))  # every slot taken
    try:
        for _ in range(3):
            tracker._next_stop_look = 0.0
            tracker.tick()
    finally:
        with tracker._inflight_changed:
            tracker._inflight.clear()
    assert len(looks) == 3
