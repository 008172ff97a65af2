"""What the stores of leased rows share (operations, stops): the database, the clock their
times come from, how long a lease lasts, and reading one row by its ID."""

from __future__ import annotations

from typing import TypeVar

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.engine import Database

Row = TypeVar("Row")


class LeasedStore:
    """The base of a store whose rows a pass takes under a lease of `lease_ttl` seconds."""

    def __init__(self, db: Database, *, clock: Clock = SYSTEM_CLOCK, lease_ttl: float = 60.0) -> None:
        self.db = db
        self.clock = clock
        self.lease_ttl = lease_ttl

    def _get(self, model: type[Row], row_id: int) -> Row | None:
        with self.db.read() as session:
            return session.get(model, row_id)
