"""The events' store a batch at a time, on SQLite and PostgreSQL: a batch part of which is
stored already (by the webhook, or another replica a moment before) stores only the rest, each
once, and hints only for those; a webhook body is stored as delivered, a polled event as its
API shape (made only when it is new)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db import migrate
from bot.db.engine import Database
from bot.db.events import EventStore, Incoming
from bot.db.models import POLYTOMIC_EVENTS
from bot.polytomic.events import event_key, parse_event

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[EventStore]:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    migrate.upgrade(url)
    db = Database(url)
    yield EventStore(db, clock=ManualClock(T0))
    db.dispose()


def body(n: int) -> dict[str, Any]:
    return {
        "id": f"ev-{n}",
        "type": "sync.failed",
        "created_at": "2026-12-02T08:59:59Z",
        "event": {"execution_id": f"e{n}", "sync_id": "s1", "sync_name": "Orders", "error": "boom"},
    }


def delivered(n: int) -> Incoming:
    text = json.dumps(body(n), indent=1)  # as a webhook might send it: not our spelling
    return Incoming(f"ev-{n}", parse_event(json.loads(text)), text)


def payloads(store: EventStore) -> dict[str, str]:
    with store.db.read_engine.connect() as conn:
        rows = conn.execute(select(POLYTOMIC_EVENTS.c.event_key, POLYTOMIC_EVENTS.c.payload)).all()
    return {row.event_key: row.payload for row in rows}


def test_a_batch_partly_stored_stores_the_rest_once(store: EventStore) -> None:
    assert len(store.take([delivered(1), delivered(3)], "webhook").new) == 2
    taken = store.take([delivered(n) for n in (1, 2, 3, 4, 2)], "webhook")  # no read first: ON CONFLICT
    assert sorted(e.id or "" for e in taken.new) == ["ev-2", "ev-4"]
    assert taken.duplicates == 3
    again = store.take([delivered(n) for n in range(1, 5)], "webhook")
    assert again.new == () and again.duplicates == 4
    assert store.count() == 4


def test_a_webhook_body_is_stored_as_delivered_and_a_polled_event_as_the_api_shape(store: EventStore) -> None:
    store.take([delivered(1)], "webhook")
    polled = parse_event(body(2))
    store.take(
        [
            Incoming(event_key(polled), polled),
            Incoming(event_key(parse_event(body(1))), parse_event(body(1))),
        ],
        "poll",
    )
    stored = payloads(store)
    assert stored["ev-1"] == json.dumps(body(1), indent=1)  # the webhook's, not re-spelled by the poll
    assert json.loads(stored["ev-2"]) == {**body(2), "organization_id": None}
    for text in stored.values():
        assert parse_event(json.loads(text)).sync is not None
