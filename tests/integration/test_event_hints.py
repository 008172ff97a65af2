"""Events as hints to the tracker, one pass at a time (`Tracker.run_due`) with the clock moved by
hand: a terminal event ends a cancelling row with no status poll, one for a click not verified
yet makes it stale (nothing canceled), and a later or out-of-order event moves nothing. The
wiring is production's (`build_services`, the feed as the receiver and poller use it); Slack and
Polytomic are the fakes, over HTTP; the database is a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.db.events import Incoming
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.polytomic.events import event_key, parse_event
from tests.harness import CHANNEL, TrackerWorld, all_text, query_db, tracker_world

POLL = 60.0  # POLL_INTERVAL: no poll comes due during a test


class World(TrackerWorld):
    def hear(self, type_: str, execution_id: str, event_id: str, **payload: Any) -> None:
        raw = {
            "id": event_id,
            "type": type_,
            "created_at": self.clock.now().isoformat(),
            "event": {"execution_id": execution_id, "sync_name": "Orders (from the event)", **payload},
        }
        event = parse_event(raw)
        assert self.services.feed is not None
        self.services.feed.take([Incoming(event_key(event), event, raw)], "webhook")

    def state(self, op_id: int) -> str:
        rows = query_db(self.database_url, "SELECT state FROM operations WHERE id = :id", {"id": op_id})
        return str(rows[0][0])


@pytest.fixture
def world(slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str) -> Iterator[World]:
    with tracker_world(World, slack, polytomic, sqlite_url, POLL_INTERVAL=str(POLL)) as world:
        yield world


def status_polls(world: World, execution_id: str) -> int:
    return len(world.polytomic.requests_to("GET", rf"/executions/{execution_id}$"))


def test_a_terminal_event_ends_a_cancelling_row_with_no_status_poll(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)
    [first] = world.tracker.run_due()
    assert first.state == "canceling"
    assert world.tracker.run_due() == []  # nothing due for a minute

    world.hear("sync.canceled", execution.id, "ev-1", status="canceled")
    [ended] = world.tracker.run_due()  # due now, without the clock moving
    assert ended.finished and world.state(op_id) == "canceled"
    assert status_polls(world, execution.id) == 0
    [status] = world.slack.messages_in(CHANNEL)
    assert "*canceled*" in all_text(status.latest)

    # Later and out-of-order events change nothing: the row is done.
    world.hear("sync.running", execution.id, "ev-0")
    world.hear("sync.completed", execution.id, "ev-2")
    assert world.tracker.run_due() == []
    assert world.state(op_id) == "canceled" and status.edit_count == 1


def test_a_failed_event_shows_polytomics_error(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)
    world.tracker.run_due()
    world.hear("sync.failed", execution.id, "ev-f", error="destination refused: 503")
    world.tracker.run_due()
    assert world.state(op_id) == "failed"
    [status] = world.slack.messages_in(CHANNEL)
    assert "destination refused: 503" in all_text(status.latest)


def test_a_terminal_event_before_the_click_is_verified_makes_it_stale(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)
    world.hear("sync.completed", execution.id, "ev-c", status="completed")  # before any pass
    [done] = world.tracker.run_due()
    assert world.state(op_id) == "stale"  # the run ended: nothing was canceled
    assert done.state == "stale"
    assert world.polytomic.effective_cancels(sync.id) == 0
    assert world.polytomic.requests_to("GET", rf"/api/syncs/{sync.id}/status$") == []
    assert world.slack.messages_in(CHANNEL) == []  # nothing announced in the channel
