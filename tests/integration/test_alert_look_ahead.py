"""The alerts worker's one read per idle look (`AlertStore.look_ahead`), on SQLite and
PostgreSQL: the same due time as `next_due` (alerts and digests, a live lease hides a row), and
whether a subscriber of a channel that went away is still to be told, which is what lets an idle
look skip the read of the untold subscriptions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.alerts.rules import RunEnded
from bot.clock import ManualClock
from bot.db import migrate, subscriptions
from bot.db.alerts import AlertStore
from bot.db.engine import Database
from bot.db.models import POLYTOMIC_EVENTS, SUBSCRIPTIONS

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    migrate.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def _event(db: Database, n: int) -> int:
    with db.core() as conn:
        return int(
            conn.execute(
                insert(POLYTOMIC_EVENTS)
                .values(
                    event_key=f"ev-{n}",
                    type="sync.failed",
                    execution_id=f"e{n}",
                    sync_id="s1",
                    created_at=NOW,
                    received_at=NOW,
                    source="poll",
                    payload=json.dumps({"id": f"ev-{n}"}),
                )
                .returning(POLYTOMIC_EVENTS.c.id)
            ).scalar_one()
        )


def test_look_ahead_says_when_the_next_row_is_due_and_who_is_untold(db: Database) -> None:
    clock = ManualClock(NOW)
    store = AlertStore(db, clock=clock)
    assert store.look_ahead() == (None, False)
    run = RunEnded(type="sync.failed", sync_id="s1", execution_id="e1", at=NOW, error="boom")
    assert store.take_in(_event(db, 1), run, {"C1": "failures"})
    assert store.look_ahead() == (NOW, False) == (store.next_due(), False)
    (row,) = store.claim("me", 5)
    assert store.look_ahead() == (None, False)  # leased: not due for anyone else
    store.release(row, "me", NOW + timedelta(seconds=30))
    assert store.look_ahead() == (NOW + timedelta(seconds=30), False)

    with db.core() as conn:
        conn.execute(
            insert(SUBSCRIPTIONS).values(
                channel_id="C1",
                scope_kind="sync",
                scope_id="s1",
                mode="failures",
                created_by="U1",
                created_at=NOW,
            )
        )
    assert store.look_ahead()[1] is False  # enabled: nobody to tell
    assert subscriptions.channel_gone(db, "C1", "channel_not_found", at=NOW) == 1
    assert store.look_ahead()[1] is True
    (gone,) = subscriptions.untold(db)
    assert subscriptions.told(db, [gone.id], at=NOW) == 1
    assert store.look_ahead() == (NOW + timedelta(seconds=30), False)
