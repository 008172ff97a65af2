"""What /readyz asks of the database: is its schema at the newest migration, and does a write
reach its storage now.

The newest migration is read from the migration scripts once per process: Alembic rebuilds its
script directory on every look, which made /readyz and /metrics about 15 times the cost of
/healthz. The write is real and committed, because a full disk or a read-only file lets reads
(and a rolled-back write) through: on SQLite it rewrites the header's `user_version` with its
own value (a page written to the WAL); on PostgreSQL it asks whether the session is read-only
(a standby, `default_transaction_read_only`) and commits a transaction ID (a WAL record).
"""

from __future__ import annotations

import functools

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.db import migrate
from bot.db.engine import Database


@functools.cache
def head_revision() -> str | None:
    return migrate.head_revision()


def schema_is_current(engine: Engine) -> bool:
    return migrate.current_revision(engine) == head_revision()


def write_problem(db: Database) -> str | None:
    """None when a committed write reaches the database now; otherwise why not, in a few words
    (the driver's own first line, which holds neither SQL nor parameters)."""
    try:
        with db.core() as connection:
            if db.dialect == "sqlite":
                version = int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)
                connection.exec_driver_sql(f"PRAGMA user_version = {version}")
            else:
                read_only = connection.exec_driver_sql(
                    "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()"
                ).scalar()
                if read_only:
                    return "the database is read-only"
                connection.exec_driver_sql("SELECT txid_current()")
    except SQLAlchemyError as error:
        return describe(error)
    return None


def describe(error: SQLAlchemyError) -> str:
    """A database error in one line: the driver's message without SQLAlchemy's SQL, parameters
    and background link (which could hold a row's values)."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__
