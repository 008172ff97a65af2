"""The alerts' intake a batch at a time, on SQLite and PostgreSQL: the events no enabled
subscription covers (none at all, none for their syncs, a non-terminal type, a disabled
subscription) are taken in by one conditional UPDATE and change no alert row; the covered ones
open streaks in exactly their channels; a second intake over the same events (another replica)
adds nothing; events stored after a look wait for the next one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.alerts.intake import Intake
from bot.clock import ManualClock
from bot.db import migrate
from bot.db.alerts import AlertStore
from bot.db.engine import Database
from bot.db.models import ALERTS, POLYTOMIC_EVENTS, SUBSCRIPTIONS

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
EV = POLYTOMIC_EVENTS


class NoPolytomic:
    """Every event here names its target connection, so the intake must never ask Polytomic."""

    def get_sync(self, sync_id: str) -> Any:
        raise AssertionError(f"the intake read sync {sync_id} from Polytomic")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    migrate.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def intake(db: Database) -> Intake:
    return Intake(AlertStore(db, clock=ManualClock(NOW)), NoPolytomic())  # type: ignore[arg-type]


def event(db: Database, n: int, sync: str, type_: str = "sync.failed", connection: str = "conn-a") -> None:
    body = {
        "id": f"ev-{n}",
        "type": type_,
        "created_at": "2025-03-04T11:59:00Z",
        "event": {
            "execution_id": f"exec-{n}",
            "sync_id": sync,
            "sync_name": f"Sync {sync}",
            "target_connection_id": connection,
            "error": "boom",
        },
    }
    with db.core() as conn:
        conn.execute(
            insert(EV).values(
                event_key=f"ev-{n}",
                type=type_,
                execution_id=f"exec-{n}",
                sync_id=sync,
                created_at=NOW,
                received_at=NOW,
                source="webhook",
                payload=json.dumps(body),
            )
        )


def subscribe(db: Database, channel: str, kind: str, scope: str, *, disabled: bool = False) -> None:
    with db.core() as conn:
        conn.execute(
            insert(SUBSCRIPTIONS).values(
                channel_id=channel,
                scope_kind=kind,
                scope_id=scope,
                mode="failures",
                created_by="U1",
                created_at=NOW,
                disabled_at=NOW if disabled else None,
            )
        )


def unmarked(db: Database) -> list[str]:
    with db.read_engine.connect() as conn:
        return list(conn.execute(select(EV.c.event_key).where(EV.c.alerted_at.is_(None))).scalars())


def alerts(db: Database) -> list[tuple[str, str]]:
    with db.read_engine.connect() as conn:
        rows = conn.execute(select(ALERTS.c.channel_id, ALERTS.c.sync_id).order_by(ALERTS.c.id)).all()
    return sorted((row.channel_id, row.sync_id) for row in rows)


def test_without_subscriptions_a_batch_is_marked_and_nothing_else(db: Database) -> None:
    for n in range(30):
        event(db, n, f"s{n % 3}", "sync.failed" if n % 2 else "sync.running")
    assert intake(db).run_once() == 0
    assert unmarked(db) == []
    assert alerts(db) == []


def test_only_the_covered_events_change_alerts_each_once(db: Database) -> None:
    subscribe(db, "C1", "sync", "s1")
    subscribe(db, "C2", "connection", "conn-b")
    subscribe(db, "C3", "sync", "s2", disabled=True)  # disabled: covers nothing
    event(db, 1, "s1")  # C1
    event(db, 2, "s2")  # only the disabled subscription: nobody
    event(db, 3, "s3", connection="conn-b")  # C2
    event(db, 4, "s1", type_="sync.running")  # not terminal: nobody
    event(db, 5, "s4")  # nobody
    first, second = intake(db), intake(db)
    assert first.run_once() == 2
    assert unmarked(db) == []
    assert alerts(db) == [("C1", "s1"), ("C2", "s3")]
    assert second.run_once() == 0  # another replica's look: everything is taken in already
    assert alerts(db) == [("C1", "s1"), ("C2", "s3")]
    event(db, 6, "s1")  # a later failure of s1 joins C1's streak, opens nothing new
    assert second.run_once() == 1
    assert alerts(db) == [("C1", "s1"), ("C2", "s3")]
    assert unmarked(db) == []


def test_an_every_sync_subscription_covers_the_whole_batch(db: Database) -> None:
    subscribe(db, "C9", "all", "*")
    for n in range(5):
        event(db, n, f"s{n}")
    assert intake(db).run_once() == 5
    assert alerts(db) == [("C9", f"s{n}") for n in range(5)]
    assert unmarked(db) == []
