"""The stop's cheaper reads against a real database (SQLite and PostgreSQL): one grants read
decides many syncs exactly as one read per sync did (bot.permissions.Snapshot), a stop's
operations reuse it only briefly (bot/tracker/stop_grants.py), a run's end told by an event is
claimed first, and the tally's narrow read of a stop's operations counts as the whole rows do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.clock import ManualClock
from bot.commands import Subject
from bot.db import grants
from bot.db.engine import Database
from bot.db.models import OPERATIONS
from bot.db.operations import OperationStore
from bot.db.stops import StopStore
from bot.permissions import Authorizer
from bot.stops import tally
from bot.tracker.stop_grants import FRESH_FOR, StopGrants
from tests.harness import confirmed_stop


@pytest.fixture
def db(migrated_db: Database) -> Database:
    return migrated_db


def test_a_snapshot_decides_as_one_read_per_sync(db: Database) -> None:
    grants.add_grant(db, Subject("user", "UALICE"), "cancel", "sync-1", "UADMIN")
    grants.add_grant(db, Subject("user", "UBOB"), "cancel", "*", "UADMIN")
    grants.add_grant(db, Subject("usergroup", "SONCALL"), "pause", "sync-2", "UADMIN")
    grants.add_grant(db, Subject("user", "UCAROL"), "admin", "sync-3", "UADMIN")
    grants.add_grant(db, Subject("user", "UDAVE"), "start", "*", "UADMIN")
    members = {"SONCALL": frozenset({"UERIN"})}
    authorizer = Authorizer(db, frozenset({"UROOT"}), lambda group: members.get(group, frozenset()))
    snapshot = authorizer.snapshot(("cancel", "pause"))
    users = ("UALICE", "UBOB", "UCAROL", "UDAVE", "UERIN", "UROOT", "UNOBODY")
    decided = 0
    for user in users:
        for action in ("cancel", "pause", "start"):  # start was not read: asked of the database
            for sync_id in ("sync-1", "sync-2", "sync-3", "sync-4", None):
                assert snapshot.may(user, action, sync_id) == authorizer.may(user, action, sync_id)
                decided += 1
    assert decided == len(users) * 3 * 5
    # The cases are not all one answer: some allowed, some denied with who could grant.
    assert snapshot.may("UALICE", "cancel", "sync-1").allowed
    assert not snapshot.may("UALICE", "cancel", "sync-2").allowed
    assert snapshot.may("UERIN", "pause", "sync-2").allowed
    assert snapshot.may("UCAROL", "cancel", "sync-3").rule.startswith("grant #")
    assert "<@UCAROL>" in snapshot.may("UNOBODY", "cancel", "sync-3").granters


def test_a_stops_operations_share_a_grants_read_briefly(db: Database) -> None:
    clock = ManualClock()
    stops, ops = StopStore(db, clock=clock), OperationStore(db, clock=clock)
    stop_id = confirmed_stop(stops, 3)
    grants.add_grant(db, Subject("user", "U1"), "cancel", "*", "UADMIN")
    reads: list[int] = []
    authorizer = Authorizer(db, frozenset(), lambda _group: frozenset())
    real_snapshot = authorizer.snapshot

    def counted(actions: tuple[str, ...]) -> object:
        reads.append(1)
        return real_snapshot(actions)

    authorizer.snapshot = counted  # type: ignore[method-assign,assignment]
    shared = StopGrants(authorizer, clock)
    first, second, third = ops.claim("w", 5)
    assert all(op.stop_id == stop_id for op in (first, second, third))
    assert shared.may(first, "cancel").allowed
    assert shared.may(second, "cancel").allowed
    assert len(reads) == 1  # one read for both
    grants.change(db, "revoke", Subject("user", "U1"), "cancel", "*", actor="UADMIN")
    clock.advance(FRESH_FOR + 0.1)
    assert not shared.may(third, "cancel").allowed  # read again: the revoke counts
    assert len(reads) == 2


def test_a_run_whose_end_an_event_told_is_claimed_first(db: Database) -> None:
    clock = ManualClock()
    stops, ops = StopStore(db, clock=clock), OperationStore(db, clock=clock)
    confirmed_stop(stops, 3)
    clock.advance(1)
    with db.core() as conn:  # the last-inserted one's run ended: an event told (bot/db/events.py)
        last = conn.execute(OPERATIONS.select().order_by(OPERATIONS.c.id.desc())).first()
        assert last is not None
        conn.execute(
            update(OPERATIONS)
            .where(OPERATIONS.c.id == last.id)
            .values(state="canceling", event_type="sync.canceled", next_poll_at=clock.now())
        )
    [claimed] = ops.claim("w", 1)
    assert claimed.id == last.id  # before the two due longer, whose end nobody told
    assert [op.id for op in ops.claim("w", 5)] == sorted(op_id for op_id in range(1, 4) if op_id != last.id)


def test_the_tallys_narrow_read_counts_as_the_whole_rows(db: Database) -> None:
    clock = ManualClock()
    stops, ops = StopStore(db, clock=clock), OperationStore(db, clock=clock)
    stop_id = confirmed_stop(stops, 4)
    claimed = ops.claim("w", 5)
    ops.save(claimed[0], "w", {"state": "canceling"})
    ops.save(claimed[1], "w", {"state": "stale", "sync_name": "Sync 1", "last_error": "changed"})
    ops.save(claimed[2], "w", {"state": "denied", "last_error": "no grant"})
    stop = stops.get(stop_id)
    assert stop is not None
    narrow, whole = stops.tallied(stop_id), stops.operations(stop_id)
    assert [op.id for op in narrow] == [op.id for op in whole]
    assert tally(stop, [], narrow) == tally(stop, [], whole)
    assert tally(stop, [], narrow).failures  # the comparison is not of two empty tallies
    with pytest.raises(AttributeError):
        _ = narrow[0].response_url  # type: ignore[attr-defined]  # not read: an error, never a silent None


def test_no_stop_due_claims_nothing_and_a_due_one_is_claimed(db: Database) -> None:
    clock = ManualClock()
    stops = StopStore(db, clock=clock)
    assert stops.claim("me", 1) == []
    stop_id = confirmed_stop(stops, 1)
    assert [s.id for s in stops.claim("me", 1)] == [stop_id]
    assert stops.claim("other", 1) == []  # leased
    clock.advance(timedelta(minutes=5).total_seconds())
    assert [s.id for s in stops.claim("other", 1)] == [stop_id]  # the lease ran out
