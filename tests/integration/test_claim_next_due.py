"""Two reads the tracker and the alerts no longer make on their own (issue 13's CPU work), on a
real database, SQLite and PostgreSQL: the claim reads when the next operation *and* the next
stop fall due in the same statement; an event alerts never take in is stored as taken already,
and only a terminal one wakes the alerts' intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.clock import ManualClock
from bot.db.alerts import AlertStore
from bot.db.engine import Database
from bot.db.events import EventStore, Incoming
from bot.db.models import SUBSCRIPTIONS
from bot.db.operations import OperationStore
from bot.db.stops import StopStore
from bot.feed.ingest import Feed
from bot.metrics import Metrics
from bot.polytomic.events import event_key, parse_event
from tests.harness import confirmed_stop

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(migrated_db: Database) -> Database:
    return migrated_db


def test_the_claim_reads_the_next_operation_and_the_next_stop_due(db: Database) -> None:
    clock = ManualClock(T0)
    ops = OperationStore(db, clock=clock, lease_ttl=30)
    stops = StopStore(db, clock=clock, lease_ttl=30)
    assert ops.claim_and_next_due("me", 10, stops=True) == ([], None, None)
    confirmed_stop(stops, 3)
    stop_due = stops.next_due()
    assert stop_due is not None
    # Two of the stop's three operations claimed: the third is due now, and so is the stop.
    claimed, op_due, seen_stop_due = ops.claim_and_next_due("me", 2, stops=True)
    assert len(claimed) == 2
    assert op_due is not None and op_due <= clock.now()
    assert seen_stop_due == stop_due and seen_stop_due.tzinfo is not None
    # Every operation and the stop leased: nothing unleased is due, whenever.
    assert len(stops.claim("me", 1)) == 1
    claimed, op_due, seen_stop_due = ops.claim_and_next_due("me", 10, stops=True)
    assert len(claimed) == 1 and op_due is None and seen_stop_due is None
    # Without `stops`, the stops' table is not read; without next_due, neither is.
    clock.advance(timedelta(seconds=60).total_seconds())  # every lease lapsed
    assert ops.claim_and_next_due("other", 10, next_due=False)[1:] == (None, None)


def test_a_claim_passes_over_the_rows_it_is_told_to_skip(db: Database) -> None:
    """The tracker's rows whose pass here is stuck: their leases lapse for another process to
    take them, and this process's claim must not win them back."""
    clock = ManualClock(T0)
    ops = OperationStore(db, clock=clock, lease_ttl=30)
    stops = StopStore(db, clock=clock, lease_ttl=30)
    confirmed_stop(stops, 3)
    first = ops.claim("me", 10)
    assert len(first) == 3
    clock.advance(60)  # every lease lapsed, none renewed
    stuck = sorted(op.id for op in first)[:2]
    mine = ops.claim_and_next_due("me", 10, skip=stuck)[0]
    assert [op.id for op in mine] == sorted(set(op.id for op in first) - set(stuck))
    # Another process, skipping nothing, takes exactly the two.
    assert sorted(op.id for op in ops.claim("another", 10)) == stuck


def _incoming(type_: str, event_id: str) -> Incoming:
    raw = {
        "id": event_id,
        "type": type_,
        "created_at": "2026-12-02T08:59:59Z",
        "organization_id": "org",
        "event": {"execution_id": "e1", "sync_id": "s1", "sync_name": "Orders"},
    }
    event = parse_event(raw)
    return Incoming(event_key(event), event, raw)


def test_only_terminal_events_wait_for_the_alerts_intake_and_wake_it(db: Database) -> None:
    clock = ManualClock(T0)
    woken: list[int] = []
    feed = Feed(EventStore(db, clock=clock), Metrics(), on_new=lambda: woken.append(1))
    alerts = AlertStore(db, clock=clock)
    # With a subscription enabled (without one, every event is stored taken in already:
    # tests/integration/test_event_alerted_at.py).
    with db.core() as conn:
        conn.execute(
            insert(SUBSCRIPTIONS).values(
                channel_id="C1",
                scope_kind="all",
                scope_id="*",
                mode="failures",
                created_by="U1",
                created_at=T0,
            )
        )
    feed.take([_incoming("sync.running", "ev-1"), _incoming("bulk_sync.running", "ev-2")], "webhook")
    assert woken == []  # nothing there for alerts: no look
    assert alerts.pending() == []
    feed.take([_incoming("sync.canceled", "ev-3"), _incoming("sync.running", "ev-4")], "poll")
    assert woken == [1]
    pending = alerts.pending()
    assert [p.type for p in pending] == ["sync.canceled"]
    assert alerts.take_in(pending[0].id, None, {}) is True
    assert alerts.pending() == []
    # A duplicate of a terminal event is no new event: no look.
    feed.take([_incoming("sync.canceled", "ev-3")], "webhook")
    assert woken == [1]
