"""Alembic environment: the engine comes from the caller (bot.db.migrate), never from a .ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bot.db.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `polytomic-bot migrate`, which supplies the engine")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
