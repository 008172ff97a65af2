"""Alembic environment: the connection, already in a transaction, comes from the caller
(bot.db.migrate, which also serializes upgrades across processes); never from a .ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.db.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `polytomic-bot migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
# The caller's transaction is already open, so this is Alembic's no-op; the caller commits.
with context.begin_transaction():
    context.run_migrations()
