"""What the stores of leased rows share (operations, stops): the database, the clock their
times come from, how long a lease lasts, reading one row by its ID, and renewing leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import ClassVar, TypeVar

from sqlalchemy import Table, Update, bindparam, update

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.engine import Database

Row = TypeVar("Row")


_RENEW: dict[Table, Update] = {}


def _renew(table: Table) -> Update:
    """A table's renew, built once: a fresh statement per renew (its IN list's coercions, its
    cache key) cost more than running it."""
    statement = _RENEW.get(table)
    if statement is None:
        statement = _RENEW[table] = (
            update(table)
            .where(
                table.c.id.in_(bindparam("w_ids", expanding=True)),
                table.c.lease_owner == bindparam("w_owner"),
            )
            .values(lease_expires_at=bindparam("w_expires", type_=table.c.lease_expires_at.type))
        )
    return statement


class LeasedStore:
    """The base of a store whose rows a pass takes under a lease of `lease_ttl` seconds."""

    leased: ClassVar[Table]  # the table whose rows carry lease_owner and lease_expires_at

    def __init__(self, db: Database, *, clock: Clock = SYSTEM_CLOCK, lease_ttl: float = 60.0) -> None:
        self.db = db
        self.clock = clock
        self.lease_ttl = lease_ttl

    def _get(self, model: type[Row], row_id: int) -> Row | None:
        with self.db.read() as session:
            return session.get(model, row_id)

    def renew(self, owner: str, ids: Sequence[int]) -> None:
        """Extend `owner`'s leases on these rows (those it still holds)."""
        if not ids:
            return
        expires = self.clock.now() + timedelta(seconds=self.lease_ttl)
        with self.db.core() as conn:
            conn.execute(_renew(self.leased), {"w_ids": list(ids), "w_owner": owner, "w_expires": expires})
