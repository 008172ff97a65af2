"""The homes' store on a real database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set): an
event taken once, only open homes marked stale, a republish at most every 5 s per viewer, and
one claimer per window whatever the number of replicas."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import pytest

from bot.answers.home_loop import HomeRefresher
from bot.clock import ManualClock
from bot.db import migrate
from bot.db.engine import Database
from bot.db.homes import OPEN_FOR, REPUBLISH_EVERY, HomeStore
from bot.db.operations import OperationStore


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    migrate.upgrade(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_an_event_is_taken_once(db: Database, clock: ManualClock) -> None:
    homes = HomeStore(db, clock=clock)
    assert homes.opened("UALICE", "T1", "D0ALICE", "1700000000.000100") is True
    assert homes.opened("UALICE", "T1", "D0ALICE", "1700000000.000100") is False  # a retry
    assert homes.opened("UALICE", "T1", None, "1700000001.000100") is True  # opened again
    assert homes.dm_channel("UALICE") == "D0ALICE"  # an event without a channel keeps the last
    assert homes.dm_channel("UNOBODY") is None


def test_only_open_homes_are_republished_and_at_most_every_5_seconds(
    db: Database, clock: ManualClock
) -> None:
    homes = HomeStore(db, clock=clock)
    homes.opened("UOLD", None, "D0OLD", "1.1")
    clock.advance(OPEN_FOR + 1)  # Slack has no "closed": ten minutes on, it counts as closed
    homes.opened("UALICE", None, "D0ALICE", "2.1")
    homes.published("UALICE")
    assert homes.mark_stale(["UOLD", "UALICE", "UNEVER"]) == 1
    assert homes.claim_due(10) == []  # published a moment ago
    assert homes.next_due() == clock.now() + timedelta(seconds=REPUBLISH_EVERY)
    clock.advance(REPUBLISH_EVERY)
    [due] = homes.claim_due(10)
    assert due.user_id == "UALICE"
    # A change right after: due again only once the window since this publish has passed.
    homes.mark_stale(["UALICE"])
    clock.advance(REPUBLISH_EVERY - 1)
    assert homes.claim_due(10) == []
    clock.advance(1)
    assert [h.user_id for h in homes.claim_due(10)] == ["UALICE"]
    assert homes.claim_due(10) == [] and homes.next_due() is None
    # A publish that failed is due again after its window.
    homes.restale("UALICE")
    clock.advance(REPUBLISH_EVERY)
    assert [h.user_id for h in homes.claim_due(10)] == ["UALICE"]


def test_one_replica_wins_each_window(database_url: str, clock: ManualClock) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        a, b = HomeStore(first, clock=clock), HomeStore(second, clock=clock)
        for n in range(6):
            a.opened(f"U{n}", None, f"D{n}", "1.1")
        a.mark_stale([f"U{n}" for n in range(6)])
        taken = [h.user_id for h in a.claim_due(3)] + [h.user_id for h in b.claim_due(10)]
        assert sorted(taken) == [f"U{n}" for n in range(6)]  # each once
        assert a.claim_due(10) == [] and b.claim_due(10) == []
    finally:
        first.dispose()
        second.dispose()


def test_the_home_lists_the_viewers_operations_newest_first(db: Database, clock: ManualClock) -> None:
    ops, homes = OperationStore(db, clock=clock), HomeStore(db, clock=clock)
    ids = []
    for n in range(12):
        clock.advance(1)
        ids.append(
            ops.create(
                kind="cancel",
                sync_id="248df4b7-aa70-47b8-a036-33ac447e668d",
                execution_id=f"run-{n}",
                team_id=None,
                requested_by="UALICE" if n != 5 else "UBOB",
                channel_id="D0ALICE",
                response_url=None,
                incident_channel=None,
                poll_timeout=60,
            )
        )
    recent = homes.recent_operations("UALICE")
    assert [op.id for op in recent] == [i for n, i in enumerate(ids) if n != 5][::-1][:10]
    assert set(homes.holders(["run-3", "run-4", "nope"])) == set()  # confirmed rows hold nothing


def test_the_refresher_marks_the_homes_told_of_together_and_keeps_them_through_an_error(
    clock: ManualClock, sqlite_url: str
) -> None:
    # Tracker passes only tell the refresher (no database round in the pass); its next round
    # marks every home told of in one go. A database that fails keeps them for the round after.
    database = Database(sqlite_url)  # not migrated yet: the homes table is missing
    try:
        homes = HomeStore(database, clock=clock)
        # mark_pending uses only the store: the answers and the lane are the loop's.
        refresher = HomeRefresher(homes, cast(Any, None), cast(Any, None), clock)
        workers = [
            threading.Thread(target=refresher.stale, args=([f"U{n % 3}", "UNEVER"],)) for n in range(30)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert refresher.mark_pending() == 0  # the database refused: nothing lost
        migrate.upgrade(sqlite_url)
        for user in ("U0", "U1", "U2"):
            homes.opened(user, None, f"D{user}", f"1.{user[1:]}")
        assert homes.claim_due(10) == []  # told, not marked yet
        assert refresher.mark_pending() == 3  # the three open homes, "UNEVER" has none
        assert refresher.mark_pending() == 0  # nothing told since
        assert sorted(home.user_id for home in homes.claim_due(10)) == ["U0", "U1", "U2"]
    finally:
        database.dispose()


def test_the_refresher_loop_claims_only_when_a_home_is_due(db: Database, clock: ManualClock) -> None:
    # An idle round is a read: the claim (a write) runs only once a stale, open home is due,
    # and that home is still handed to the homes' lane.
    class Counted(HomeStore):
        claims = 0

        def claim_due(self, limit: int) -> list[Any]:
            Counted.claims += 1
            return super().claim_due(limit)

    handed: list[str] = []
    lane = cast(
        Any, type("Lane", (), {"submit_home": lambda self, _work, home: handed.append(home.user_id)})()
    )
    answers = cast(Any, type("Answers", (), {"republish": None})())
    homes = Counted(db, clock=clock)
    refresher = HomeRefresher(homes, answers, lane, clock)
    refresher.start()
    try:
        refresher.stale(["UNOBODY"])  # nobody's home is open: nothing is due
        deadline = threading.Event()
        deadline.wait(1.5)  # past an IDLE_WAIT: the loop looked again
        assert Counted.claims == 0 and handed == []
        homes.opened("U1", None, "DU1", "1.1")
        refresher.stale(["U1"])
        for _ in range(50):
            if handed:
                break
            deadline.wait(0.1)
        assert handed == ["U1"] and Counted.claims >= 1
    finally:
        refresher.stop()
