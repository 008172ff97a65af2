"""Events as hints to the tracker, one pass at a time (`Tracker.run_due`) with the clock moved by
hand: a terminal event ends a cancelling row with no status poll, one for a click not verified
yet makes it stale (nothing canceled), and a later or out-of-order event moves nothing. The
wiring is production's (`build_services`, the feed as the receiver and poller use it); Slack and
Polytomic are the fakes, over HTTP; the database is a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Mode, load_settings
from bot.db import migrate
from bot.db.events import Incoming
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.polytomic.events import event_key, parse_event
from bot.services import Services, build_services
from bot.tracker import Tracker
from tests.harness import CHANNEL, all_text, base_env, query_db

POLL = 60.0  # POLL_INTERVAL: no poll comes due during a test


@dataclass
class World:
    services: Services
    tracker: Tracker
    clock: ManualClock
    slack: FakeSlack
    polytomic: FakePolytomic
    database_url: str

    def click(self, sync_id: str, execution_id: str) -> int:
        return self.services.operations.create(
            kind="cancel",
            sync_id=sync_id,
            execution_id=execution_id,
            team_id="T1",
            requested_by="UADMIN",
            channel_id=CHANNEL,
            response_url=self.slack.response_url("confirm"),
            incident_channel=None,
            poll_timeout=600,
        )

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
    env = base_env(slack, polytomic, sqlite_url, SLACK_POST_INTERVAL="0", POLL_INTERVAL=str(POLL))
    settings = load_settings(Mode.WORKER, env)
    migrate.upgrade(sqlite_url)
    clock = ManualClock()
    services = build_services(settings, with_tracker=True, responders=1, clock=clock)
    assert services.tracker is not None
    yield World(services, services.tracker, clock, slack, polytomic, sqlite_url)
    services.stop(1.0)


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
