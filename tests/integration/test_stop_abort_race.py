"""An abort of a stop that lands while one of its syncs' pass is under way (its check that the
stop is not aborted already read, its status read at Polytomic still going) still stops that
sync's cancel: the move to canceling, after which the cancel goes, is conditional on the stop
not being aborted in the write itself (bot/db/operation_statements.py's SAVE_TAKE_IN_STOP). The
real tracker on a ManualClock, the fakes, a real SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.db.stops import Picked
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.views import notes
from tests.harness import TrackerWorld, confirmed_stop, tracker_world


@pytest.fixture
def world(slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str) -> Iterator[TrackerWorld]:
    with tracker_world(TrackerWorld, slack, polytomic, sqlite_url) as world:
        yield world


def test_an_abort_during_the_status_read_stops_the_cancel(world: TrackerWorld) -> None:
    polytomic = world.polytomic
    syncs = [polytomic.add_sync(name=f"Sync {i}") for i in range(2)]
    runs = [sync.start_execution() for sync in syncs]
    stops = world.services.stops
    picked = [Picked(s.id, s.name, r.id) for s, r in zip(syncs, runs, strict=True)]
    stop_id = confirmed_stop(stops, len(picked), requested_by="UADMIN", picked=picked)
    polytomic.set_latency(1.0, r"/status$")  # each sync's check before its cancel takes a second
    passes = threading.Thread(target=world.tracker.run_due)
    passes.start()
    deadline = time.monotonic() + 5
    while not polytomic.requests_to("GET", r"/status") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert polytomic.requests_to("GET", r"/status"), "no pass read a status"
    assert stops.abort(stop_id, by="UADMIN", channel_id="C1") is True  # while that read is going
    passes.join(timeout=30)
    assert not passes.is_alive()
    assert polytomic.cancel_requests() == []
    ops = stops.operations(stop_id)
    assert [(o.state, o.last_error) for o in ops] == [("denied", notes.ABORTED)] * 2
