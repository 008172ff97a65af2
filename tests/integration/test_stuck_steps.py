"""A cancellation whose Polytomic strings PostgreSQL would refuse, and one whose step keeps
failing, one tracker pass at a time (`Tracker.run_due`, the clock moved by hand), on SQLite and
on PostgreSQL (TEST_DATABASE_URL). Production's wiring (`build_services`); Slack and Polytomic
are the fakes, over HTTP.

- a NUL in a sync's name or in a run's error text is dropped where it enters the bot
  (bot/polytomic/parsing.py), so the write confirmed → canceling, and the outcome's, go through;
- a step that fails three times in a row is shown: the status message says what keeps
  failing, the requester is told once, and the tracker keeps backing off and trying."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.operations import STUCK_AFTER
from bot.tracker import Processed
from tests.harness import CHANNEL, TrackerWorld, all_text, query_db, tracker_world

POLL = 5.0


class World(TrackerWorld):
    def row(self, op_id: int) -> Any:
        [row] = query_db(
            self.database_url,
            "SELECT state, attempts, last_error, execution_errors, sync_name, notified_state "
            "FROM operations WHERE id = :id",
            {"id": op_id},
        )
        return row

    def told(self) -> list[dict[str, Any]]:
        """What the requester was told (the click's prompt being deleted says nothing)."""
        assert self.response_url is not None
        return [r for r in self.slack.responses(self.response_url) if not r.get("delete_original")]

    def next_pass(self, done: Processed) -> Processed:
        """Move the clock to when the last pass asked to come back, and run that pass."""
        assert done.next_at is not None
        self.clock.advance(max(0.0, (done.next_at - self.clock.now()).total_seconds()))
        [again] = self.tracker.run_due()
        return again


def ddl(database_url: str, *statements: str) -> None:
    """Change the test database's schema from outside the bot (PostgreSQL)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def world(slack: FakeSlack, polytomic: FakePolytomic, database_url: str) -> Iterator[World]:
    response_url = slack.response_url("confirm")
    with tracker_world(
        World, slack, polytomic, database_url, response_url=response_url, POLL_INTERVAL=str(POLL)
    ) as world:
        yield world


def test_a_sync_named_with_a_nul_is_canceled(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders\x00 nightly\x1b")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)

    [first] = world.tracker.run_due()
    assert first.problem is None, first.problem
    assert first.state == "canceling"
    assert world.polytomic.effective_cancels(sync.id) == 1
    execution.finish("canceled")
    done = world.next_pass(first)
    assert (done.state, done.finished) == ("canceled", True)
    state, _, _, _, name, _ = world.row(op_id)
    assert (state, name) == ("canceled", "Orders nightly")
    [status] = world.slack.messages_in(CHANNEL)
    assert "*Orders nightly*" in all_text(world.slack.message(CHANNEL, status.ts).latest)


def test_a_nul_in_a_runs_error_text_does_not_keep_the_row_canceling(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)
    [first] = world.tracker.run_due()
    assert first.state == "canceling"

    execution.finish("failed", errors=["disk \x00full\x00"])
    done = world.next_pass(first)
    assert done.problem is None, done.problem
    assert (done.state, done.finished) == ("failed", True)
    state, _, _, errors, _, _ = world.row(op_id)
    assert (state, errors) == ("failed", "disk full")


def test_a_nul_in_an_error_from_polytomic_is_kept_without_it(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    world.polytomic.inject(
        "POST", r"/cancel$", status=503, body={"status": 503, "message": "down\x00 for\x00 now"}, times=2
    )
    op_id = world.click(sync.id, execution.id)
    [first] = world.tracker.run_due()
    assert first.problem is None, first.problem
    _, attempts, last_error, _, _, _ = world.row(op_id)
    assert attempts == 1 and last_error == "Polytomic unreachable: down for now"
    world.next_pass(first)
    assert world.polytomic.effective_cancels(sync.id) == 1


def test_a_step_that_keeps_failing_is_shown_and_still_tried(world: World) -> None:
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    world.polytomic.inject(
        "POST", r"/cancel$", status=503, body={"status": 503, "message": "maintenance"}, times=1000
    )
    op_id = world.click(sync.id, execution.id)

    done = world.tracker.run_due()[0]
    gaps: list[float] = []
    for attempt in range(2, STUCK_AFTER + 2):
        [status] = world.slack.messages_in(CHANNEL)
        shown = all_text(world.slack.message(CHANNEL, status.ts).latest)
        told = world.told()
        if attempt - 1 < STUCK_AFTER:
            assert "times in a row" not in shown
            assert told == []
        assert done.next_at is not None
        gaps.append((done.next_at - world.clock.now()).total_seconds())
        done = world.next_pass(done)

    # Three failures in a row: the channel sees what keeps failing, the requester is told once.
    _, attempts, last_error, _, _, notified = world.row(op_id)
    assert attempts == STUCK_AFTER + 1 and "maintenance" in last_error
    [status] = world.slack.messages_in(CHANNEL)
    shown = all_text(world.slack.message(CHANNEL, status.ts).latest)
    assert "Trying to send the cancel has failed" in shown and "maintenance" in shown
    assert "I keep trying" in shown
    [note] = world.told()
    assert note["response_type"] == "ephemeral"
    assert "times in a row" in all_text(note) and "maintenance" in all_text(note)
    assert notified == "canceling:stuck"
    # Backing off: each wait longer than the first, the tracker still trying.
    assert max(gaps) > gaps[0] and gaps[-1] >= 2 * POLL, gaps
    assert world.polytomic.effective_cancels(sync.id) == 0

    # Polytomic is back: the cancel goes out, the warning goes away, nobody is told twice.
    world.polytomic.clear_faults()
    done = world.next_pass(done)
    assert world.polytomic.effective_cancels(sync.id) == 1
    execution.finish("canceled")
    done = world.next_pass(done)
    assert (done.state, done.finished) == ("canceled", True)
    shown = all_text(world.slack.message(CHANNEL, status.ts).latest)
    assert "*canceled*" in shown and "times in a row" not in shown
    assert len(world.told()) == 1


def test_a_write_the_database_keeps_refusing_is_shown_and_still_tried(
    world: World, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a trigger that refuses a write: PostgreSQL's")
    ddl(
        database_url,
        "CREATE FUNCTION refuse_canceling() RETURNS trigger AS $$ BEGIN "
        "IF NEW.state = 'canceling' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_canceling BEFORE UPDATE ON operations "
        "FOR EACH ROW EXECUTE FUNCTION refuse_canceling()",
    )
    sync = world.polytomic.add_sync(name="Orders")
    execution = sync.start_execution(cancel_delay=None)
    op_id = world.click(sync.id, execution.id)

    done = world.tracker.run_due()[0]
    gaps: list[float] = []
    for _ in range(STUCK_AFTER - 1):
        assert done.problem is not None and done.state == "confirmed"
        assert world.told() == []  # not yet: a blip should not alarm anyone
        [(due,)] = query_db(database_url, "SELECT next_poll_at FROM operations WHERE id = :id", {"id": op_id})
        gaps.append((due - world.clock.now()).total_seconds())
        world.clock.advance(gaps[-1])
        done = world.tracker.run_due()[0]

    # Refused three times in a row: the requester hears of it, privately, once.
    state, attempts, last_error, _, _, notified = world.row(op_id)
    assert (state, attempts, notified) == ("confirmed", STUCK_AFTER, "confirmed:stuck")
    assert last_error == "ProgrammingError"  # the class only: the database's text is not for the channel
    [note] = world.told()
    assert "not going through yet" in all_text(note) and "failed 3 times in a row" in all_text(note)
    assert world.polytomic.effective_cancels(sync.id) == 0
    assert gaps[-1] > gaps[0], gaps  # backing off

    ddl(database_url, "DROP TRIGGER refuse_canceling ON operations")
    [(due,)] = query_db(database_url, "SELECT next_poll_at FROM operations WHERE id = :id", {"id": op_id})
    world.clock.advance((due - world.clock.now()).total_seconds())
    [recovered] = world.tracker.run_due()
    assert recovered.problem is None and recovered.state == "canceling"
    assert world.polytomic.effective_cancels(sync.id) == 1
    assert len(world.told()) == 1
