"""Engine and session setup for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "polytomic_bot_read_only"  # execution option of Database.read()'s connections


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine; on SQLite, WAL mode and a busy timeout so threads can write at once."""
    # hide_parameters: a failed statement's text (in a log line or an exception) never carries a
    # row's values, such as an operation's response_url.
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )
        configure_sqlite(engine)
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, hide_parameters=True
    )


def sqlite_file(url: str) -> Path | None:
    """The file behind an SQLite URL; None for another database, `:memory:` or a `file:` URI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).resolve()


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and writers that take the write lock when they begin."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN IMMEDIATE below is honoured.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # WAL lets readers run beside the one writer: a read never waits for the lock.
            connection.exec_driver_sql("BEGIN")
            return
        # A deferred transaction that later writes can fail with "database is locked" without
        # waiting for the busy timeout; taking the write lock up front makes writers queue.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class Database:
    """The engine and its session factory: `with db.transaction() as session: ...`."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = make_session_factory(self.engine)
        # SQLite has one writer at a time, and one process per file (bot.db.sqlite_lock), so
        # this process's writers queue here, in order, instead of in SQLite's busy handler,
        # which sleeps up to 100 ms between looks: a click's insert behind the tracker's
        # writes waited seconds. The database still decides every outcome; this only orders.
        self._writer: threading.RLock | None = threading.RLock() if self.dialect == "sqlite" else None
        # Same pool; on SQLite its transactions begin deferred instead of taking the write lock.
        self.read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.read_sessions = make_session_factory(self.read_engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction that commits on success and rolls back on error."""
        with self._one_writer(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def core(self) -> Iterator[Connection]:
        """A Core connection in a transaction (commits on success), for statements that don't
        need the ORM: cheaper where the tracker writes on every poll."""
        with self._one_writer(), self.engine.begin() as connection:
            yield connection

    def _one_writer(self) -> AbstractContextManager[Any]:
        return self._writer if self._writer is not None else nullcontext()

    def read(self) -> AbstractContextManager[Session]:
        """A session for reading only: on SQLite it neither waits for nor blocks the writer."""
        return self.read_sessions.begin()

    def dispose(self) -> None:
        self.engine.dispose()
