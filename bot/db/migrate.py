"""Alembic, driven from code: `polytomic-bot migrate`, and the upgrade that `serve`, `socket`,
`worker`, `grant` and `revoke` run before anything else.

The upgrade runs on a connection of its own, from an engine built here for it alone (NullPool:
one connection, closed afterwards). None of the request engine's pool, events or timeouts apply
to it, so a migration that waits for another process, or takes long, is never cut short.

Processes started together (a platform scaling `web` to several on the first deploy) must not
run the upgrade at once: on PostgreSQL the second CREATE TABLE of the same name fails with a
UniqueViolation. There the upgrade holds an advisory lock: the first process upgrades, the
others wait for it, then find the schema at head and do nothing. On SQLite the lock file beside
the database (bot.db.sqlite_lock) keeps every other process off the file instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.pool import NullPool

from bot.db.engine import configure_sqlite

MIGRATIONS = Path(__file__).with_name("migrations")
# The advisory lock's bigint key ("pbot-mig"); advisory locks are per database, so bots on other
# databases of the same server never wait for each other.
SCHEMA_LOCK = int.from_bytes(b"pbot-mig", "big")

log = logging.getLogger("bot.db.migrate")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migration_engine(database_url: str) -> Engine:
    """An engine for the upgrade alone: no pool, and none of the request engine's settings."""
    engine = create_engine(database_url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)  # BEGIN IMMEDIATE: the whole upgrade is one write transaction
    return engine


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema to `revision`, one process at a time; a no-op when it is there already."""
    engine = migration_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                _lock_schema(connection)
            # One transaction for every migration and the version row (PostgreSQL's DDL is
            # transactional): a process that waited sees all of it or none. Alembic runs inside
            # it (env.py). Closing the connection ends the session, and with it the lock.
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def _lock_schema(connection: Connection) -> None:
    """Take the session-level advisory lock, free of any timeout the server or URL sets.

    Taken and committed before the migration's transaction begins, so that transaction's first
    snapshot comes after the lock whatever the isolation level: a waiter reads the version row
    its predecessor committed, not the empty schema it saw when it started waiting.
    """
    for setting in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
        connection.exec_driver_sql(f"SET {setting} = 0")
    if not connection.scalar(select(func.pg_try_advisory_lock(SCHEMA_LOCK))):
        log.info("another process is upgrading the database schema; waiting for it")
        connection.execute(select(func.pg_advisory_lock(SCHEMA_LOCK)))
    connection.commit()


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head()


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {s.revision for s in script.walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def schema_problem(current: str | None) -> tuple[str, str] | None:
    """What is wrong with a database at migration `current` and how to fix it; None at the head.
    The first part reads after the database's name: "<database> has no schema yet"."""
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return "has no schema yet", "run `polytomic-bot migrate`"
    if current not in known_revisions():
        return (
            f"is at migration {current}, which this version of polytomic-bot does not know "
            "(a newer version migrated it)",
            "run the polytomic-bot version that migrated it, or upgrade this installation",
        )
    return f"is at migration {current}, not the newest ({head})", "run `polytomic-bot migrate`"
