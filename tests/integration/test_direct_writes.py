"""The cheaper SQL path (bot/db/direct.py's writes, the claim's rows, BEGIN IMMEDIATE straight to
the driver), on SQLite and PostgreSQL: a statement run on the driver's cursor
stores exactly the bytes `Connection.execute` stores (every column type a pass's save writes,
an audit row's), a driver error is raised as SQLAlchemy's (IntegrityError, so ExecutionHeld
still comes out of a save), and a statement it cannot run alone goes through Connection.execute."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Boolean, DateTime, Integer, bindparam, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import ManualClock
from bot.db import direct, migrate
from bot.db.audit import _INSERT
from bot.db.engine import Database
from bot.db.models import AUDIT_EVENTS, OPERATIONS
from bot.db.operation_statements import HOLDER, NEXT_DUE_WITH_STOPS, RELEASE_AT, SAVE
from bot.db.operations import OperationStore

AT = datetime(2026, 12, 2, 9, 0, 1, 123456, tzinfo=UTC)


@pytest.fixture
def db(migrated_db: Database) -> Database:
    return migrated_db


def _row(db: Database, execution: str) -> int:
    with db.core() as conn:
        values = {
            "kind": "cancel",
            "sync_id": "s1",
            "execution_id": execution,
            "requested_by": "U1",
            "channel_id": "C1",
            "state": "confirmed",
            "cancel_attempt": 1,
            "created_at": AT,
            "updated_at": AT,
            "next_poll_at": AT,
            "attempts": 0,
            "lease_owner": "me",
        }
        return int(conn.execute(insert(OPERATIONS).values(values).returning(OPERATIONS.c.id)).scalar_one())


HOLDER_ANY = select(OPERATIONS).where(OPERATIONS.c.id == bindparam("w_id"))  # a row, read whole

_KEPT = ("id", "lease_owner", "kind", "state", "execution_id", "sync_id", "start_key", "stop_id", "alert_id")


def _every_column(step: int) -> dict[str, Any]:
    """A value for every column a save may set but the row's identity, its lease and its unique keys."""
    values: dict[str, Any] = {}
    for column in OPERATIONS.c:
        if column.name in (
            "id",
            "lease_owner",
            "kind",
            "state",
            "execution_id",
            "sync_id",
            "start_key",
            "stop_id",
            "alert_id",
        ):
            continue
        if isinstance(column.type, Boolean):
            values[column.name] = True
        elif isinstance(column.type, Integer):
            values[column.name] = 40 + step
        elif isinstance(getattr(column.type, "impl", column.type), DateTime) and step == 3:
            # Another zone, no microseconds: stored as UTC, the microseconds written out.
            values[column.name] = datetime(2026, 12, 2, 4, 0, 1, tzinfo=timezone(timedelta(hours=-5)))
        elif isinstance(getattr(column.type, "impl", column.type), DateTime):
            values[column.name] = AT + timedelta(days=step, microseconds=step)
        else:
            values[column.name] = f"text ✓ '{step}' %s ?"
    return values


def _raw(db: Database, row_id: int) -> dict[str, Any]:
    """The row as stored (no SQLAlchemy type processing), without its id and execution."""
    with db.read() as session:
        found = session.execute(text("SELECT * FROM operations WHERE id = :id"), {"id": row_id})
        row = found.mappings().one()
    return {key: value for key, value in row.items() if key not in ("id", "execution_id")}


def test_a_save_stores_what_connection_execute_stores(db: Database) -> None:
    through_sqlalchemy, through_driver = _row(db, "e1"), _row(db, "e2")
    for step in (1, 2, 3):  # the second and third from the cached shape
        values = _every_column(step)
        with db.core() as conn:
            assert conn.execute(SAVE, {**values, "w_id": through_sqlalchemy, "w_owner": "me"}).rowcount == 1
            assert direct.write(conn, SAVE, {**values, "w_id": through_driver, "w_owner": "me"}) == 1
        assert _raw(db, through_driver) == _raw(db, through_sqlalchemy)
        # ... and read back through direct.fetch as SQLAlchemy's result reads it.
        with db.core() as conn:
            keys, rows = direct.fetch(conn, HOLDER_ANY, {"w_id": through_driver})
            expected = conn.execute(HOLDER_ANY, {"w_id": through_driver}).one()
        read = dict(zip(keys, rows[0], strict=True))
        assert read == dict(expected._mapping)
        assert read["deadline_at"] == values["deadline_at"] and read["deadline_at"].tzinfo == UTC
    with db.core() as conn:  # not this owner's: matches nothing
        assert direct.write(conn, SAVE, {"attempts": 9, "w_id": through_driver, "w_owner": "other"}) == 0
    assert _raw(db, through_driver)["attempts"] == 43  # the third step's


def test_an_audit_row_stores_what_connection_execute_stores(db: Database) -> None:
    values = {
        "at": AT,
        "actor": "U1",
        "action": "cancel",
        "sync_id": None,
        "decision": "allowed",
        "rule": "r ✓",
        "outcome": None,
        "operation_id": 7,
        "channel_id": "C1",
    }
    with db.core() as conn:
        conn.execute(_INSERT, values)
        direct.write(conn, _INSERT, values)
    with db.read() as session:
        rows = session.execute(text("SELECT * FROM audit_events ORDER BY id")).mappings().all()
    first, second = ({k: v for k, v in row.items() if k != "id"} for row in rows)
    assert first == second
    assert first["rule"] == "r ✓"


def test_a_driver_error_is_sqlalchemys_and_rolls_the_transaction_back(db: Database) -> None:
    op_id = _row(db, "e1")
    with pytest.raises(IntegrityError), db.core() as conn:
        direct.write(conn, SAVE, {"attempts": 5, "w_id": op_id, "w_owner": "me"})
        direct.write(conn, SAVE, {"requested_by": None, "w_id": op_id, "w_owner": "me"})
    assert _raw(db, op_id)["attempts"] == 0


def test_what_it_cannot_run_alone_goes_through_connection_execute(db: Database) -> None:
    op_id = _row(db, "e1")
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    with db.core() as conn:
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            # A column default to compute (`at`): Connection.execute's execution context does.
            # (On PostgreSQL an INSERT also returns its new id: that too goes there.)
            direct.write(conn, insert(AUDIT_EVENTS), {"actor": "U1", "action": "cancel"})
            # Someone listening to the statements: they see the direct ones too.
            assert direct.write(conn, SAVE, {"attempts": 4, "w_id": op_id, "w_owner": "me"}) == 1
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(seen) == 2
    assert _raw(db, op_id)["attempts"] == 4
    with db.read() as session:
        assert session.execute(text("SELECT at FROM audit_events")).scalar_one() is not None


def test_a_begin_behind_another_writer_waits_its_window_then_raises(tmp_path: Any) -> None:
    """SQLite: BEGIN IMMEDIATE, sent straight to the driver, still waits no longer than the
    transaction's window for another process's write lock, raises SQLAlchemy's
    OperationalError, and a read does not wait at all."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    db = Database(url)
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), db.core(within=0.4):
            pass
        waited = time.monotonic() - started
        assert 0.3 <= waited < 2.0
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM operations")).scalar_one() == 0
        other.execute("ROLLBACK")
        with db.core() as conn:  # the connection that failed to begin is usable again
            assert direct.write(conn, SAVE, {"attempts": 1, "w_id": 1, "w_owner": "me"}) == 0
    finally:
        other.close()
        db.dispose()


def test_a_claimed_row_is_the_operation_a_read_returns(db: Database) -> None:
    """CLAIM's rows become Operations without their constructor (operation_statements.loaded):
    the same values as a read's, settable, and a renew (built once per table) keeps them."""
    clock = ManualClock(AT)
    store = OperationStore(db, clock=clock, lease_ttl=60.0)
    op_id = _row(db, "e1")
    with db.core() as conn:
        conn.execute(update(OPERATIONS).where(OPERATIONS.c.id == op_id).values(lease_owner=None))
    (claimed,) = store.claim("me", 5)
    read = store.get(op_id)
    assert read is not None
    for column in OPERATIONS.c:
        assert getattr(claimed, column.key) == getattr(read, column.key), column.key
    assert claimed.lease_owner == "me" and claimed.next_poll_at.tzinfo is not None
    claimed.state = "canceling"
    assert claimed.state == "canceling"
    clock.advance(30)
    store.renew("me", [op_id])
    store.renew("other", [op_id])  # not its lease: changes nothing
    renewed = store.get(op_id)
    assert renewed is not None and renewed.lease_expires_at == AT + timedelta(seconds=90)


def test_a_fetch_returns_what_connection_execute_returns(db: Database) -> None:
    """direct.fetch's rows (a SELECT, an UPDATE's RETURNING, an aggregate) are the values and
    keys SQLAlchemy's own result gives, aware datetimes included, from the cached shape too."""
    op_id = _row(db, "e1")
    release = {"w_id": op_id, "w_owner": "me", "lease_owner": None, "lease_expires_at": None}
    for step in (1, 2):
        with db.core() as conn:
            expected = conn.execute(HOLDER, {"w_execution": "e1"}).all()
            keys, rows = direct.fetch(conn, HOLDER, {"w_execution": "e1"})
            assert keys == tuple(conn.execute(HOLDER, {"w_execution": "e1"}).keys())
            assert rows == [tuple(row) for row in expected] and len(rows) == 0  # `confirmed` holds nothing
            conn.execute(update(OPERATIONS).where(OPERATIONS.c.id == op_id).values(state="canceling"))
            keys, rows = direct.fetch(conn, HOLDER, {"w_execution": "e1"})
            assert [tuple(row) for row in conn.execute(HOLDER, {"w_execution": "e1"}).all()] == rows
            assert dict(zip(keys, rows[0], strict=True))["created_at"] == AT
            later = AT + timedelta(minutes=step)
            values = {**release, "w_hinted": None, "w_next": later, "w_now": AT}
            assert direct.fetch(conn, RELEASE_AT, values) == (("next_poll_at",), [(later,)])
            assert direct.fetch(conn, RELEASE_AT, {**values, "w_owner": "other"}) == (("next_poll_at",), [])
            ((due, stop_due),) = direct.fetch(conn, NEXT_DUE_WITH_STOPS, {})[1]
            assert (due, stop_due) == tuple(conn.execute(NEXT_DUE_WITH_STOPS).one())
            assert due == later and due.tzinfo is not None and stop_due is None
            taken_back = {"state": "confirmed", "lease_owner": "me"}
            conn.execute(update(OPERATIONS).where(OPERATIONS.c.id == op_id).values(taken_back))


def test_a_fetch_it_cannot_run_alone_goes_through_connection_execute(db: Database) -> None:
    """An expanding IN (a claim that skips stuck rows) is rendered by Connection.execute, and a
    listener sees the direct statements too; the rows are the same either way."""
    clock = ManualClock(AT)
    store = OperationStore(db, clock=clock, lease_ttl=60.0)
    first, second = _row(db, "e1"), _row(db, "e2")
    with db.core() as conn:
        conn.execute(update(OPERATIONS).values(lease_owner=None))
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    (claimed,), _due, _stop_due = store.claim_and_next_due("me", 5, skip=[first])
    assert claimed.id == second and claimed.lease_owner == "me" and claimed.created_at == AT
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        store.release(second, "me", next_at=AT)
        (again,), due, _stop_due = store.claim_and_next_due("me", 1)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert again.id == first and due == AT
    assert len(seen) == 3  # the release, the claim, its next-due read


def test_the_clicks_insert_returns_its_id_and_a_second_click_finds_the_holder(db: Database) -> None:
    """record_click on the driver's cursor: the new row's id (RETURNING on both databases), the
    row as stored; once a row holds the run, a click on it gets that row and inserts nothing."""
    store = OperationStore(db, clock=ManualClock(AT))
    click = {
        "kind": "cancel",
        "sync_id": "s1",
        "execution_id": "e1",
        "team_id": None,
        "requested_by": "U1",
        "channel_id": "C1",
        "response_url": "https://hooks.example/r ✓",
        "incident_channel": None,
        "poll_timeout": 600.0,
    }
    first = store.record_click(**click)
    second = store.record_click(**click)  # `confirmed` holds nothing: a row of its own
    assert isinstance(first, int) and isinstance(second, int) and second > first
    row = store.get(first)
    assert row is not None and row.state == "confirmed" and row.response_url == "https://hooks.example/r ✓"
    assert (
        row.deadline_at == AT + timedelta(seconds=600) and row.next_poll_at == AT and row.cancel_attempt == 1
    )
    with db.core() as conn:
        conn.execute(update(OPERATIONS).where(OPERATIONS.c.id == second).values(state="canceling"))
    holder = store.record_click(**click)
    assert not isinstance(holder, int)
    assert holder.id == second and holder.state == "canceling" and holder.created_at == AT
    assert store.count_unfinished() == 2


def test_a_write_takes_the_lock_as_it_begins_and_a_read_does_not(tmp_path: Any) -> None:
    """SQLite: the writers' BEGIN IMMEDIATE comes from the dialect's begin (no event on their
    engine, which would make every step of every connection dispatch through the event
    machinery), a read's plain BEGIN from its own engine's event: inside a write no other
    connection can take the write lock, inside a read it can; each began a transaction."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    db = Database(url)
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None, timeout=0)
    try:
        assert not db.engine._has_events
        with db.core() as conn:
            assert conn.connection.driver_connection.in_transaction  # type: ignore[union-attr]
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with db.read() as session:
            driver = session.connection().connection.driver_connection
            assert driver is not None and driver.in_transaction
            other.execute("BEGIN IMMEDIATE")  # a read holds no write lock
            other.execute("ROLLBACK")
        with db.core() as conn:  # the same pooled connection, a writer again
            assert direct.write(conn, SAVE, {"attempts": 1, "w_id": 1, "w_owner": "me"}) == 0
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        db.dispose()
