"""Alembic migrations on SQLite and PostgreSQL: schema equals the models, the constraints hold,
and on PostgreSQL upgrades run one at a time, free of the server's timeouts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from bot.db import migrate
from bot.db.bounds import SQLITE_BUSY_SECONDS
from bot.db.engine import SQLITE_BUSY_TIMEOUT_MS, Database
from bot.db.models import Base, Grant, Operation
from tests.harness import wait_until

EXEC = "7f6e5d4c-3b2a-4190-8877-665544332211"
SYNC = "248df4b7-aa70-47b8-a036-33ac447e668d"
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def fresh(database_url: str) -> Iterator[Database]:
    """An empty database, not migrated yet."""
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def db(fresh: Database) -> Database:
    migrate.upgrade(fresh.url)
    return fresh


def test_upgrade_to_head_and_is_up_to_date(fresh: Database) -> None:
    assert migrate.head_revision()
    assert migrate.current_revision(fresh.engine) is None
    assert migrate.is_up_to_date(fresh.engine) is False
    migrate.upgrade(fresh.url)
    assert migrate.current_revision(fresh.engine) == migrate.head_revision()
    assert migrate.is_up_to_date(fresh.engine) is True
    migrate.upgrade(fresh.url)  # a second upgrade is a no-op
    assert migrate.is_up_to_date(fresh.engine) is True
    tables = set(inspect(fresh.engine).get_table_names())
    assert {"grants", "operations", "audit_events", "alembic_version"} <= tables


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrated_schema_has_every_model_column(db: Database) -> None:
    inspector = inspect(db.engine)
    for table in Base.metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, f"{table.name}.{column.name}"


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        migrate.upgrade(db.url)
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            # The bot's own transactions wait for another process's lock a bounded time (issue 12).
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_SECONDS * 1000
            assert SQLITE_BUSY_TIMEOUT_MS >= 1000
        # every new connection gets them, not just the first
        db.engine.dispose()
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_SECONDS * 1000
        assert (tmp_path / "wal.db-wal").exists() or (tmp_path / "wal.db-shm").exists()
    finally:
        db.dispose()


def _operation(state: str, execution_id: str = EXEC) -> Operation:
    return Operation(
        kind="cancel",
        sync_id=SYNC,
        execution_id=execution_id,
        requested_by="U123",
        channel_id="C123",
        state=state,
        created_at=NOW,
        updated_at=NOW,
        next_poll_at=NOW,
    )


def _insert(db: Database, operation: Operation) -> int:
    with db.transaction() as session:
        session.add(operation)
        session.flush()
        return operation.id


def test_one_live_operation_per_execution(db: Database) -> None:
    _insert(db, _operation("canceling"))
    for state in ("canceling", "canceled", "completed"):
        with pytest.raises(IntegrityError):
            _insert(db, _operation(state))
    # Clicks not yet authorized hold nothing: several may wait for the same execution.
    _insert(db, _operation("confirmed"))
    _insert(db, _operation("confirmed"))
    _insert(db, _operation("canceling", execution_id="another-execution"))
    with db.transaction() as session:
        assert session.scalar(select(Operation.id).where(Operation.execution_id == EXEC)) is not None
        count = session.execute(text("SELECT count(*) FROM operations")).scalar()
    assert count == 4


def test_a_released_operation_frees_its_execution(db: Database) -> None:
    first = _insert(db, _operation("canceling"))
    with db.transaction() as session:
        session.get_one(Operation, first).state = "rejected"
    second = _insert(db, _operation("canceling"))  # allowed now
    assert second != first
    with pytest.raises(IntegrityError):
        _insert(db, _operation("canceling"))
    # several released rows may pile up for the same execution
    for state in ("denied", "stale", "rejected", "duplicate", "denied"):
        _insert(db, _operation(state))
    # and a released row cannot come back to life while another one is live
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.get_one(Operation, first).state = "canceling"


def test_the_unique_key_on_grants(db: Database) -> None:
    def grant(kind: str = "user", subject: str = "U123", action: str = "cancel", scope: str = "*") -> Grant:
        return Grant(
            subject_kind=kind, subject_id=subject, action=action, scope=scope, granted_by="t", granted_at=NOW
        )

    with db.transaction() as session:
        session.add(grant())
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(grant())
    with db.transaction() as session:  # any one part different is another grant
        session.add_all(
            [grant(kind="usergroup"), grant(subject="U999"), grant(action="admin"), grant(scope=SYNC)]
        )
    with db.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM grants")).scalar() == 5


# ---- PostgreSQL: one upgrade at a time -----------------------------------------------------


class Upgrade(threading.Thread):
    """migrate.upgrade in a thread, as another process would run it; keeps its error."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            migrate.upgrade(self.database_url)
        except BaseException as error:
            self.error = error


@pytest.fixture
def holder(postgres_url: str) -> Iterator[Connection]:
    """A session holding the schema lock, as a process in the middle of its upgrade does."""
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(select(text(f"pg_advisory_lock({migrate.SCHEMA_LOCK})")))
        connection.commit()
        yield connection
    engine.dispose()


def _waiting_for_the_lock(postgres_url: str, longer_than: float = 0.0) -> bool:
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            waited = connection.scalar(
                text(
                    "SELECT extract(epoch FROM now() - a.query_start) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"
                )
            )
    finally:
        engine.dispose()
    return waited is not None and float(waited) > longer_than


def _versions(postgres_url: str) -> list[str]:
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def test_an_upgrade_waits_for_the_one_in_progress_then_does_nothing(
    postgres_url: str, holder: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alembic")
    caplog.set_level(logging.INFO, logger="bot.db.migrate")
    second = Upgrade(postgres_url)
    second.start()
    wait_until(lambda: _waiting_for_the_lock(postgres_url), 10, 0.05, "the second upgrade to wait")
    assert inspect(holder).get_table_names() == []  # it created nothing while it waited
    holder.rollback()
    # The holder upgrades, commits, and lets go: what the first of several processes does.
    with holder.begin():
        command.upgrade(migrate.alembic_config(holder), "head")
    holder.execute(select(text(f"pg_advisory_unlock({migrate.SCHEMA_LOCK})")))
    holder.commit()
    second.join(20)
    assert not second.is_alive()
    assert second.error is None, repr(second.error)
    messages = [record.getMessage() for record in caplog.records]
    assert sum("Running upgrade" in m for m in messages) == len(migrate.known_revisions())  # the holder's
    assert any("waiting for it" in m for m in messages)
    assert _versions(postgres_url) == [migrate.head_revision()]


def test_the_upgrade_is_free_of_the_servers_timeouts(postgres_url: str, holder: Connection) -> None:
    """Timeouts set on the session (here through the URL, as an operator might) don't cut short
    an upgrade that waits for another: it waits as long as the other takes."""
    with_timeouts = postgres_url + "?options=-c%20statement_timeout%3D200%20-c%20lock_timeout%3D200"
    second = Upgrade(with_timeouts)
    second.start()
    wait_until(
        lambda: _waiting_for_the_lock(postgres_url, longer_than=1.0), 10, 0.05, "a wait past the timeouts"
    )
    assert second.is_alive() and second.error is None
    holder.execute(select(text(f"pg_advisory_unlock({migrate.SCHEMA_LOCK})")))
    holder.commit()
    second.join(20)
    assert second.error is None, repr(second.error)
    assert _versions(postgres_url) == [migrate.head_revision()]


def test_the_lock_is_let_go_after_the_upgrade(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(text(f"pg_try_advisory_lock({migrate.SCHEMA_LOCK})"))) is True
    finally:
        engine.dispose()
