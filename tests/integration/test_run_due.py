"""The tracker one pass at a time (`Tracker.run_due`), in this process, with the clock moved by
hand: a cancel from click to outcome, a progress refresh and an escalation, none of which waits
in real time. The wiring is production's (`build_services`); Slack and Polytomic are the fakes,
over HTTP; the database is a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.views.status import PROGRESS_EVERY
from tests.harness import CHANNEL, INCIDENTS, TrackerWorld, all_text, query_db, tracker_world

POLL = 5.0  # POLL_INTERVAL
TIMEOUT = 120.0  # POLL_TIMEOUT


class World(TrackerWorld):
    def state(self, op_id: int) -> Any:
        return query_db(
            self.database_url, "SELECT state, finished_at FROM operations WHERE id = :id", {"id": op_id}
        )[0]


@pytest.fixture
def world(slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str) -> Iterator[World]:
    with tracker_world(
        World,
        slack,
        polytomic,
        sqlite_url,
        incident_channel=INCIDENTS,
        poll_timeout=TIMEOUT,
        INCIDENT_CHANNEL=INCIDENTS,
        POLL_INTERVAL=str(POLL),
        POLL_TIMEOUT=str(TIMEOUT),
    ) as world:
        yield world


def test_a_cancel_from_click_to_outcome_one_pass_at_a_time(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None, rows_per_second=50)
    op_id = world.click(sync.id, execution.id)

    [first] = world.tracker.run_due()
    assert (first.operation_id, first.state, first.finished) == (op_id, "canceling", False)
    assert first.next_at == world.clock.now() + timedelta(seconds=POLL)
    assert world.polytomic.effective_cancels(sync.id) == 1
    [status] = world.slack.messages_in(CHANNEL)
    assert "canceling…" in all_text(status.latest)
    [notice] = world.slack.messages_in(INCIDENTS)

    # Nothing is due until the clock says so: no pass, no call.
    calls = len(world.polytomic.requests)
    assert world.tracker.run_due() == []
    assert len(world.polytomic.requests) == calls

    world.clock.advance(POLL)
    [polled] = world.tracker.run_due()
    assert polled.state == "canceling" and not polled.finished
    assert status.edit_count == 0  # progress alone waits for PROGRESS_EVERY

    execution.finish("canceled")
    world.clock.advance(POLL)
    [done] = world.tracker.run_due()
    assert (done.state, done.finished, done.next_at) == ("canceled", True, None)
    assert "*canceled* after" in all_text(world.slack.message(CHANNEL, status.ts).latest)
    [reply] = world.slack.thread(INCIDENTS, notice.ts)
    assert "*canceled*" in all_text(reply.latest)
    state, finished_at = world.state(op_id)
    assert state == "canceled" and finished_at is not None
    outcomes = query_db(
        world.database_url,
        "SELECT action, outcome FROM audit_events WHERE operation_id = :id ORDER BY id",
        {"id": op_id},
    )
    assert outcomes == [("cancel.confirm", None), ("cancel", "canceled")]
    world.clock.advance(3600)
    assert world.tracker.run_due() == []  # finished: never claimed again


def test_progress_refreshes_when_the_clock_says_so(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None, rows_per_second=50)
    world.click(sync.id, execution.id)
    world.tracker.run_due()
    [status] = world.slack.messages_in(CHANNEL)
    for _ in range(int(PROGRESS_EVERY // POLL) - 1):
        world.clock.advance(POLL)
        world.tracker.run_due()
    assert world.slack.message(CHANNEL, status.ts).edit_count == 0  # 25 s: progress alone waits
    world.clock.advance(POLL)
    world.tracker.run_due()
    edited = world.slack.message(CHANNEL, status.ts)
    assert edited.edit_count == 1
    assert f"Canceling for {int(PROGRESS_EVERY)} seconds" in all_text(edited.latest)


def test_an_escalation_when_the_clock_passes_the_deadline(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)
    world.tracker.run_due()
    [notice] = world.slack.messages_in(INCIDENTS)
    assert world.slack.thread(INCIDENTS, notice.ts) == []

    world.clock.advance(TIMEOUT + 1)
    [escalated] = world.tracker.run_due()
    assert escalated.state == "canceling"
    [reply] = world.slack.thread(INCIDENTS, notice.ts)
    assert "*still canceling* after 2 minutes" in all_text(reply.latest)
    [status] = world.slack.messages_in(CHANNEL)
    assert "Try the cancel again" in all_text(world.slack.message(CHANNEL, status.ts).latest)
    [(escalated_at,)] = query_db(
        world.database_url, "SELECT escalated_at FROM operations WHERE id = :id", {"id": op_id}
    )
    assert escalated_at is not None
