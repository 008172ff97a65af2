"""The events store (bot/db/events.py) on a real database, SQLite and PostgreSQL: each event once
whichever way it came, the hint it leaves on an operation (never moved back, never postponed by a
pass), the poller's lease and cursor, and pruning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.db import migrate
from bot.db.engine import Database
from bot.db.events import EventStore, Incoming
from bot.db.operations import OperationStore
from bot.polytomic.events import event_key, parse_event

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[EventStore, OperationStore, ManualClock, Database]]:
    migrate.upgrade(database_url)
    db = Database(database_url)
    clock = ManualClock(T0)
    yield EventStore(db, clock=clock), OperationStore(db, clock=clock, lease_ttl=30), clock, db
    db.dispose()


def incoming(type_: str, execution_id: str, event_id: str, **payload: Any) -> Incoming:
    raw = {
        "id": event_id,
        "type": type_,
        "created_at": "2026-12-02T08:59:59Z",
        "organization_id": "org",
        "event": {"execution_id": execution_id, "sync_id": "s1", "sync_name": "Orders", **payload},
    }
    event = parse_event(raw)
    return Incoming(event_key(event), event, raw)


def new_op(ops: OperationStore, execution_id: str) -> int:
    return ops.create(
        kind="cancel",
        sync_id="s1",
        execution_id=execution_id,
        team_id="T1",
        requested_by="UADMIN",
        channel_id="CGENERAL",
        response_url=None,
        incident_channel=None,
        poll_timeout=600,
    )


def test_an_event_is_stored_once_whichever_way_it_came(stores: Any) -> None:
    events, _ops, _clock, _db = stores
    first = events.take([incoming("sync.canceled", "e1", "ev-1", status="canceled")], "webhook")
    again = events.take([incoming("sync.canceled", "e1", "ev-1", status="canceled")], "webhook")
    polled = events.take(
        [incoming("sync.canceled", "e1", "ev-1"), incoming("sync.running", "e1", "ev-0")], "poll"
    )
    assert len(first.new) == 1 and first.duplicates == 0
    assert again.new == () and again.duplicates == 1
    assert [e.id for e in polled.new] == ["ev-0"]
    assert polled.duplicates == 1 and polled.cross_duplicates == 1  # the webhook had brought it
    assert events.count() == 2


def test_a_terminal_event_is_kept_on_its_operation_and_never_moved_back(stores: Any) -> None:
    events, ops, clock, _db = stores
    op_id = new_op(ops, "e1")
    op = ops.claim("owner-a", 1)[0]
    ops.release(op.id, "owner-a", next_at=T0 + timedelta(seconds=60), hinted_at=op.hinted_at)
    assert ops.get(op_id).next_poll_at == T0 + timedelta(seconds=60)
    clock.advance(1)
    taken = events.take(
        [incoming("sync.completed_with_errors", "e1", "ev-1", error="row 3: bad", number_of_errors=1)],
        "webhook",
    )
    assert taken.hinted == 1
    row = ops.get(op_id)
    assert row.event_type == "sync.completed_with_errors" and row.event_error == "row 3: bad"
    assert row.next_poll_at == clock.now()  # due now
    assert row.event_sync_name == "Orders"
    # Later events, terminal or not, out of order: the first terminal one stays.
    clock.advance(1)
    events.take([incoming("sync.running", "e1", "ev-2"), incoming("sync.canceled", "e1", "ev-3")], "poll")
    row = ops.get(op_id)
    assert row.event_type == "sync.completed_with_errors" and row.event_error == "row 3: bad"


def test_a_pass_never_postpones_a_hint_that_landed_during_it(stores: Any) -> None:
    events, ops, clock, _db = stores
    op_id = new_op(ops, "e1")
    claimed = ops.claim("owner-a", 1)[0]
    clock.advance(1)
    events.take([incoming("sync.canceled", "e1", "ev-1")], "webhook")  # while the pass runs
    clock.advance(1)
    ops.release(
        claimed.id, "owner-a", next_at=clock.now() + timedelta(seconds=60), hinted_at=claimed.hinted_at
    )
    assert ops.get(op_id).next_poll_at == clock.now()  # still due now, not in a minute
    # Without a hint meanwhile, the pass's own time holds.
    again = ops.claim("owner-a", 1)[0]
    ops.release(again.id, "owner-a", next_at=clock.now() + timedelta(seconds=60), hinted_at=again.hinted_at)
    assert ops.get(op_id).next_poll_at == clock.now() + timedelta(seconds=60)


def test_bulk_events_and_finished_operations_are_not_acted_on(stores: Any) -> None:
    events, ops, _clock, _db = stores
    taken = events.take([incoming("bulk_sync.canceled", "e1", "ev-b")], "poll")
    assert len(taken.new) == 1 and taken.hinted == 0
    op_id = new_op(ops, "e2")
    op = ops.claim("owner-a", 1)[0]
    assert ops.finish(op, "owner-a", {})
    assert events.take([incoming("sync.canceled", "e2", "ev-2")], "webhook").hinted == 0
    assert ops.get(op_id).event_type is None


def test_one_poller_holds_the_lease_and_the_cursor_never_moves_back(stores: Any) -> None:
    events, _ops, clock, _db = stores
    assert events.lease("a", ttl=10) is None  # first poll: no cursor yet
    assert events.lease("b", ttl=10) is False
    assert events.advance("a", T0)
    assert not events.advance("b", T0 + timedelta(hours=1))  # not the holder
    assert not events.advance("a", T0 - timedelta(seconds=5))  # never backwards
    assert events.lease("a", ttl=10) == T0
    clock.advance(11)  # a's lease lapses: b takes over, from a's cursor
    assert events.lease("b", ttl=10) == T0
    assert events.lease("a", ttl=10) is False


def test_events_older_than_48_hours_are_pruned(stores: Any) -> None:
    events, _ops, clock, _db = stores
    events.take([incoming("sync.running", "e1", "ev-old")], "poll")
    clock.advance(47 * 3600)
    events.take([incoming("sync.running", "e2", "ev-new")], "poll")
    clock.advance(2 * 3600)
    assert events.prune() == 1
    assert events.count() == 1
