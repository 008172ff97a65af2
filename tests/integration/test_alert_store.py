"""The alerts' schema and store on SQLite and PostgreSQL: migration 0003_alerts up and down (and
up again), and the database rules that make alerts exactly-once across processes: an event is
taken in by one store of two, one open streak per sync and channel, a duplicated run adds no
failure, a claimed alert is nobody else's, and news during a pass keeps the row due."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from bot.alerts.rules import RunEnded
from bot.clock import ManualClock
from bot.db import migrate
from bot.db.alerts import AlertStore
from bot.db.engine import Database
from bot.db.models import ALERTS, OPERATIONS, POLYTOMIC_EVENTS

SYNC = "248df4b7-aa70-47b8-a036-33ac447e668d"
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alerts.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    migrate.upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def _event(db: Database, n: int, execution: str, type_: str = "sync.failed") -> int:
    with db.core() as conn:
        return int(
            conn.execute(
                insert(POLYTOMIC_EVENTS)
                .values(
                    event_key=f"ev-{n}",
                    type=type_,
                    execution_id=execution,
                    sync_id=SYNC,
                    created_at=NOW,
                    received_at=NOW,
                    source="poll",
                    payload=json.dumps({"id": f"ev-{n}", "type": type_}),
                )
                .returning(POLYTOMIC_EVENTS.c.id)
            ).scalar_one()
        )


def _run(execution: str, type_: str = "sync.failed", at: datetime = NOW) -> RunEnded:
    return RunEnded(type=type_, sync_id=SYNC, execution_id=execution, at=at, error="boom")


def test_the_migration_goes_down_and_up_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = migrate.migration_engine(database_url)
    try:
        with engine.begin() as connection:
            config = migrate.alembic_config(connection)
            command.downgrade(config, "0002")
        tables = set(inspect(engine).get_table_names())
        assert not {"subscriptions", "alerts", "alert_failures", "alert_digests", "mutes"} & tables
        columns = {c["name"]: c for c in inspect(engine).get_columns("operations")}
        assert "start_key" not in columns and columns["execution_id"]["nullable"] is False
        assert "alerted_at" not in {c["name"] for c in inspect(engine).get_columns("polytomic_events")}
    finally:
        engine.dispose()
    migrate.upgrade(database_url)
    engine = migrate.migration_engine(database_url)
    try:
        assert migrate.is_up_to_date(engine)
        columns = {c["name"]: c for c in inspect(engine).get_columns("operations")}
        assert columns["execution_id"]["nullable"] is True
    finally:
        engine.dispose()


def test_one_live_start_per_sync_and_a_start_never_holds_an_execution(db: Database) -> None:
    def op(**values: object) -> None:
        row = {
            "kind": "start",
            "sync_id": SYNC,
            "requested_by": "U1",
            "channel_id": "C1",
            "state": "starting",
            "created_at": NOW,
            "updated_at": NOW,
            "next_poll_at": NOW,
            "cancel_attempt": 1,
            "attempts": 0,
            **values,
        }
        with db.core() as conn:
            conn.execute(insert(OPERATIONS).values(row))

    op(start_key="a~U1", execution_id=None)
    with pytest.raises(IntegrityError):
        op(start_key="b~U2", execution_id=None)  # a second live start of the sync
    with pytest.raises(IntegrityError):
        op(start_key="a~U1", state="denied")  # the same click twice
    op(start_key="c~U3", state="completed", execution_id="e1")
    op(kind="cancel", execution_id="e1", state="canceling")  # a cancel of the started run is free


def test_an_event_is_taken_in_by_one_store_of_two(db: Database) -> None:
    clock = ManualClock(NOW)
    first, second = AlertStore(db, clock=clock), AlertStore(db, clock=clock)
    event = _event(db, 1, "e1")
    assert [p.id for p in first.pending()] == [event]
    assert first.take_in(event, _run("e1"), {"C1": "failures", "C2": "all"}) is True
    assert second.take_in(event, _run("e1"), {"C1": "failures", "C2": "all"}) is False
    assert first.pending() == []
    with db.core() as conn:
        rows = conn.execute(text("SELECT channel_id, failures FROM alerts ORDER BY channel_id")).all()
    assert [tuple(r) for r in rows] == [("C1", 1), ("C2", 1)]


def test_one_open_streak_per_sync_and_channel_and_one_failure_per_run(db: Database) -> None:
    store = AlertStore(db, clock=ManualClock(NOW))
    for n, execution in enumerate(["e1", "e2", "e2", "e3"]):
        store.take_in(_event(db, n, execution), _run(execution), {"C1": "failures"})
    [alert] = store.claim("me", 10)
    assert alert.failures == 3 and [f.execution_id for f in store.failures(alert.id)] == ["e1", "e2", "e3"]
    with pytest.raises(IntegrityError), db.core() as conn:
        values = {
            c: getattr(alert, c)
            for c in ("channel_id", "sync_id", "kind", "state", "failures", "covered_failures", "attempts")
        }
        conn.execute(
            insert(ALERTS).values(
                **values, streak_key="other", created_at=NOW, updated_at=NOW, next_poll_at=NOW
            )
        )
    # A success older than the last failure closes nothing; a later one does.
    store.take_in(
        _event(db, 10, "e0", "sync.completed"),
        _run("e0", "sync.completed", NOW - timedelta(hours=1)),
        {"C1": "failures"},
    )
    assert store.get(alert.id).state == "open"  # type: ignore[union-attr]
    store.take_in(
        _event(db, 11, "e4", "sync.completed"),
        _run("e4", "sync.completed", NOW + timedelta(minutes=1)),
        {"C1": "failures"},
    )
    assert store.get(alert.id).state == "recovered"  # type: ignore[union-attr]


def test_a_claimed_alert_is_nobody_elses_and_news_during_a_pass_keeps_it_due(db: Database) -> None:
    clock = ManualClock(NOW)
    store = AlertStore(db, clock=clock, lease_ttl=30)
    store.take_in(_event(db, 1, "e1"), _run("e1"), {"C1": "failures"})
    [alert] = store.claim("one", 10)
    assert store.claim("two", 10) == []
    clock.advance(0.5)
    store.touch(alert.id)  # a new failure, or a click, while "one" works on it
    assert store.finish(alert, "one") is False
    [again] = store.claim("two", 10)  # due now, and the lease was given back
    assert store.finish(again, "two") is True
    assert store.claim("one", 10) == []
    clock.advance(3600)
    assert store.claim("one", 10) == []  # finished: only news brings it back
