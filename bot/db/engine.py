"""Engine and session setup for SQLite (the embedded default) and PostgreSQL, every wait on the
database bounded (bot.db.bounds says how), and commits that say whether they happened.

`Database.transaction()` / `core()` commit on success; a failed write raises a SQLAlchemyError
when it is known not to have happened, `OutcomeUnknown` when the COMMIT went out and no answer
came back. `write_within(work, seconds)` (a Session) and `core_within` (a Core connection)
answer within `seconds` whatever the database does: the confirm click's insert, which must be
acked before Slack's 3 s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import bounds
from bot.db.bounds import OutcomeUnknown

__all__ = ["Database", "OutcomeUnknown", "configure_sqlite", "make_engine", "read_only", "sqlite_file"]

SQLITE_BUSY_TIMEOUT_MS = 10_000  # migrations' (bot.db.migrate); the bot's own is bounded.py's
READ_ONLY = "polytomic_bot_read_only"  # execution option of Database.read()'s connections
_BUSY_TIMEOUT = "polytomic_bot_busy_timeout_ms"  # a connection's busy timeout as last set
# Once a COMMIT is on its way, how much longer write_within waits for its answer.
COMMIT_GRACE = 0.5
_T = TypeVar("_T")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine; on SQLite, WAL mode and a busy timeout so threads can write at once."""
    # hide_parameters: a failed statement's text (in a log line or an exception) never carries a
    # row's values, such as an operation's response_url.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": bounds.SQLITE_BUSY_SECONDS},
            hide_parameters=True,
        )
        configure_sqlite(engine, bounded=True)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=bounds.TRANSACTION_SECONDS,  # every connection busy: wait no longer
        hide_parameters=True,
    )
    _bound_postgres(engine)
    return engine


def _bound_postgres(engine: Engine) -> None:
    """Timeouts on every connection this engine opens (a DATABASE_URL value wins), and, with
    psycopg, every wait bounded by the thread's window."""
    bounded = engine.dialect.driver == "psycopg"

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        for name, value in bounds.PG_CONNECT.items():
            cparams.setdefault(name, value)
        cparams["connect_timeout"] = min(int(cparams["connect_timeout"]), bounds.connect_timeout())
        extra = cparams.get("options")
        # Later settings win in libpq's options, so the URL's own come last.
        cparams["options"] = f"{bounds.PG_OPTIONS} {extra}" if extra else bounds.PG_OPTIONS
        if not bounded:
            return None  # another driver: the settings above, its own connect
        if bounds.left() <= 0:  # the window is spent (a ping just gave up): do not start anew
            raise bounds.not_sent_error("the database deadline passed before connecting")
        return bounds.pg_connection_class().connect(*cargs, **cparams)


def sqlite_file(url: str) -> Path | None:
    """The file behind an SQLite URL; None for another database, `:memory:` or a `file:` URI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).resolve()


def configure_sqlite(engine: Engine, *, bounded: bool = False) -> None:
    """WAL, a busy timeout, foreign keys, and writers that take the write lock when they begin.
    `bounded`: each transaction's busy timeout is what is left of the thread's window, at most
    SQLITE_BUSY_SECONDS (another process holding the write lock); else SQLITE_BUSY_TIMEOUT_MS."""

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

    dbapi_error = engine.dialect.loaded_dbapi.Error
    dialect = engine.dialect

    def begin(fairy: Any, statement: str) -> None:
        """`statement` straight to the driver, after the connection's busy timeout: through
        exec_driver_sql (an execution context, a cursor result, its events) these statements
        cost about half of an empty transaction's CPU."""
        driver = fairy.driver_connection
        sent = statement
        try:
            if bounded:
                seconds = max(0.0, min(bounds.SQLITE_BUSY_SECONDS, bounds.left()))
                timeout = int(seconds * 1000)
                # Nearly always SQLITE_BUSY_SECONDS (the window is longer): a statement per
                # transaction saved by setting it only when it changes on this connection.
                info = fairy.info
                if info.get(_BUSY_TIMEOUT) != timeout:
                    sent = f"PRAGMA busy_timeout={timeout}"
                    driver.execute(sent)
                    info[_BUSY_TIMEOUT] = timeout
            sent = statement
            driver.execute(statement)
        except dbapi_error as error:
            # What exec_driver_sql raises: the driver's error wrapped (OperationalError for a
            # busy database), its statement without parameters.
            raise DBAPIError.instance(
                sent, None, error, dbapi_error, hide_parameters=True, dialect=dialect
            ) from error

    def do_begin(fairy: Any) -> None:
        # A writer: a deferred transaction that later writes can fail with "database is
        # locked" without waiting for the busy timeout; taking the write lock up front makes
        # writers queue. A read began already (its engine's "begin" event: `read_only`).
        if not fairy.driver_connection.in_transaction:
            begin(fairy, "BEGIN IMMEDIATE")

    # The dialect's own begin, not a "begin" event on the engine: any event on an engine makes
    # every connection of it dispatch each of its steps (begin, execute, commit) through the
    # event machinery, about a third of an empty transaction's CPU.
    setattr(dialect, "do_begin", do_begin)  # noqa: B010 (an instance's method, replaced)
    setattr(dialect, _BEGIN_READ, lambda fairy: begin(fairy, "BEGIN"))


_BEGIN_READ = "polytomic_bot_begin_read"  # how an SQLite dialect configured here begins a read


def read_only(engine: Engine) -> Engine:
    """`engine` for reading only (the same pool): on SQLite its transactions begin deferred,
    with a plain BEGIN (WAL lets readers run beside the one writer, so a read never waits for
    the write lock), from a "begin" event of its own, which the writers' engine does not have."""
    reader = engine.execution_options(**{READ_ONLY: True})
    begin_read: Callable[[Any], None] | None = getattr(engine.dialect, _BEGIN_READ, None)
    if begin_read is not None:

        @event.listens_for(reader, "begin")
        def _on_begin(connection: Any) -> None:
            begin_read(connection.connection)

    return reader


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@dataclass
class _Attempt:
    """What write_within's caller and its worker agree on: once abandoned, never committed."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    abandoned: bool = False
    committing: bool = False


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
        self.read_engine = read_only(self.engine)
        self.read_sessions = make_session_factory(self.read_engine)
        self._writes: ThreadPoolExecutor | None = None  # write_within's, made on first use
        self._writes_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, within: float = bounds.TRANSACTION_SECONDS) -> Iterator[Session]:
        """A session in a transaction that commits on success and rolls back on error; every
        wait in it ends within `within` seconds."""
        with bounds.window(within), self._one_writer():
            session = self.sessions()
            try:
                session.begin()
                yield session
                session.flush()  # the statements fail here, if at all: nothing committed
                self._commit(session.commit)
            except BaseException:
                with suppress(Exception):
                    session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def core(self, *, within: float = bounds.TRANSACTION_SECONDS) -> Iterator[Connection]:
        """A Core connection in a transaction (commits on success), for statements that don't
        need the ORM: cheaper where the tracker writes on every poll."""
        with bounds.window(within), self._one_writer(), self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
                self._commit(transaction.commit)
            except BaseException:
                with suppress(Exception):
                    transaction.rollback()
                raise

    def write_within(self, work: Callable[[Session], _T], seconds: float) -> _T:
        """`work` in one transaction, answered within `seconds` (plus COMMIT_GRACE once its
        COMMIT is on its way) whatever the database does. Returns what `work` returns; raises a
        SQLAlchemyError when nothing was written (the statements failed, or took too long: then
        the transaction is abandoned and never committed), OutcomeUnknown when the COMMIT went
        out and no answer came in time."""

        def in_session(connection: Connection) -> _T:
            session = self.sessions(bind=connection)
            result = work(session)
            session.flush()
            return result

        return self.core_within(in_session, seconds)

    def core_within(self, work: Callable[[Connection], _T], seconds: float) -> _T:
        """`write_within` for Core statements: `work` is given the transaction's connection
        (no Session to make and flush: the confirm click's insert, bot/db/operation_clicks.py)."""
        attempt = _Attempt()
        future = self._write_pool().submit(self._attempt, work, attempt, seconds + COMMIT_GRACE)
        try:
            return future.result(timeout=seconds)
        except FutureTimeout:
            with attempt.lock:
                if not attempt.committing:
                    attempt.abandoned = True
                    raise _timed_out(seconds) from None
        try:
            return future.result(timeout=COMMIT_GRACE)
        except FutureTimeout:
            raise OutcomeUnknown(f"no answer to COMMIT within {seconds + COMMIT_GRACE:g} s") from None

    def _attempt(self, work: Callable[[Connection], _T], attempt: _Attempt, seconds: float) -> _T:
        with bounds.window(seconds), self._one_writer(), self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                with attempt.lock:
                    if attempt.abandoned:  # queued behind other writes for too long
                        raise _timed_out(seconds)
                result = work(connection)
                with attempt.lock:
                    if attempt.abandoned:
                        raise _timed_out(seconds)
                    attempt.committing = True
                self._commit(transaction.commit)
                return result
            except BaseException:
                with suppress(Exception):
                    transaction.rollback()
                raise

    def _write_pool(self) -> ThreadPoolExecutor:
        with self._writes_lock:
            if self._writes is None:
                self._writes = ThreadPoolExecutor(8, thread_name_prefix="db-write")
            return self._writes

    def _commit(self, commit: Callable[[], None]) -> None:
        """COMMIT, and say what a failure means: known (re-raised as is) or OutcomeUnknown."""
        try:
            commit()
        except DBAPIError as error:
            if self.dialect == "sqlite":
                raise  # a local file: a failed COMMIT did not happen
            if getattr(error.orig, "sqlstate", None) or bounds.not_sent(error.orig):
                raise  # the server answered and refused it, or it never went out
            raise OutcomeUnknown("the database did not answer the COMMIT") from error

    def _one_writer(self) -> AbstractContextManager[Any]:
        return _Writer(self._writer) if self._writer is not None else _NoWriter()

    def read(self) -> AbstractContextManager[Session]:
        """A session for reading only: on SQLite it neither waits for nor blocks the writer."""
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with bounds.window(bounds.TRANSACTION_SECONDS), self.read_sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        with self._writes_lock:
            if self._writes is not None:
                self._writes.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()


def _timed_out(seconds: float) -> OperationalError:
    return OperationalError(
        f"no answer from the database within {seconds:g} s", None, TimeoutError("database deadline")
    )


class _Writer:
    """This process's one SQLite writer, waited for no longer than the thread's window."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=max(0.0, bounds.left())):
            raise OperationalError(
                "this process's other writes held the database too long", None, TimeoutError("writer")
            )

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class _NoWriter:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
