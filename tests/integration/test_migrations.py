"""Alembic migrations on SQLite and PostgreSQL: schema equals the models, the constraints hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.db import migrate
from bot.db.engine import SQLITE_BUSY_TIMEOUT_MS, Database
from bot.db.models import Base, Grant, Operation

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
    migrate.upgrade(fresh.engine)
    return fresh


def test_upgrade_to_head_and_is_up_to_date(fresh: Database) -> None:
    assert migrate.head_revision()
    assert migrate.current_revision(fresh.engine) is None
    assert migrate.is_up_to_date(fresh.engine) is False
    migrate.upgrade(fresh.engine)
    assert migrate.current_revision(fresh.engine) == migrate.head_revision()
    assert migrate.is_up_to_date(fresh.engine) is True
    migrate.upgrade(fresh.engine)  # a second upgrade is a no-op
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
        migrate.upgrade(db.engine)
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
            assert SQLITE_BUSY_TIMEOUT_MS >= 1000
        # every new connection gets them, not just the first
        db.engine.dispose()
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
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
