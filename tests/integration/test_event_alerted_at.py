"""An event stored while no alert subscription is enabled is stored taken in (`alerted_at` set:
the alerts' intake has nothing to look at, read or write for it), on SQLite and PostgreSQL,
one at a time (a webhook's) and a batch at a time (a poll's). No cache: a subscription enabled
later, on any process, makes the very next terminal event pending; a disabled one does not;
a non-terminal event is taken in whatever the subscriptions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from bot.clock import ManualClock
from bot.db import migrate
from bot.db.engine import Database
from bot.db.events import EventStore, Incoming
from bot.db.models import POLYTOMIC_EVENTS, SUBSCRIPTIONS
from bot.polytomic.events import parse_event

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
EV = POLYTOMIC_EVENTS


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[EventStore]:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    migrate.upgrade(url)
    db = Database(url)
    yield EventStore(db, clock=ManualClock(T0))
    db.dispose()


def incoming(n: int, type_: str = "sync.failed") -> Incoming:
    body = {
        "id": f"ev-{n}",
        "type": type_,
        "created_at": "2026-12-02T08:59:59Z",
        "event": {"execution_id": f"e{n}", "sync_id": "s1", "sync_name": "Orders", "error": "boom"},
    }
    return Incoming(f"ev-{n}", parse_event(body))


def pending(store: EventStore) -> list[str]:
    with store.db.read_engine.connect() as conn:
        rows = conn.execute(select(EV.c.event_key).where(EV.c.alerted_at.is_(None)).order_by(EV.c.id))
        return list(rows.scalars())


def taken_at(store: EventStore, key: str) -> datetime | None:
    with store.db.read_engine.connect() as conn:
        value: datetime | None = conn.scalar(select(EV.c.alerted_at).where(EV.c.event_key == key))
        return value


def subscribe(store: EventStore) -> None:
    with store.db.core() as conn:
        conn.execute(
            insert(SUBSCRIPTIONS).values(
                channel_id="C1",
                scope_kind="sync",
                scope_id="s9",
                mode="failures",
                created_by="U1",
                created_at=T0,
            )
        )


def test_without_a_subscription_events_are_stored_taken_in_and_a_later_one_is_honoured(
    store: EventStore,
) -> None:
    store.take([incoming(1)], "webhook")
    store.take([incoming(2), incoming(3, "sync.running")], "poll")
    assert pending(store) == []
    assert taken_at(store, "ev-1") == T0
    subscribe(store)  # for another sync, even: the intake decides what it covers
    store.take([incoming(4)], "webhook")
    store.take([incoming(5), incoming(6, "sync.running"), incoming(7, "sync.canceled")], "poll")
    assert pending(store) == ["ev-4", "ev-5", "ev-7"]
    with store.db.core() as conn:
        conn.execute(update(SUBSCRIPTIONS).values(disabled_at=T0, disabled_reason="gone"))
    store.take([incoming(8)], "webhook")
    store.take([incoming(9), incoming(10)], "poll")
    assert pending(store) == ["ev-4", "ev-5", "ev-7"]
