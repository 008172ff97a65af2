"""Polytomic's events' store: every statement on `polytomic_events` and `event_poller`, and the
hint an event leaves on the operations that track its execution.

* `take` stores a batch of events, each once (the unique `event_key`: an event's id, else a
  digest of its body), whichever way it came, and in the same transaction leaves what a *new*
  one says on every unfinished operation of its execution: due now (`next_poll_at`,
  `hinted_at`), and for the first terminal event of a model sync its type, time, error, rows and
  the sync's name (`event_*`). A terminal event is final, so a later one, or a non-terminal one
  out of order, never overwrites it (`WHERE event_type IS NULL`). An event already stored
  changes nothing: a duplicated delivery, or the poller reading what the webhook brought,
  is handled once. `bulk_sync.*` events are stored and nothing else. An event is stored
  taken in by the alerts (`alerted_at`) unless it is terminal and some subscription is enabled,
  as the INSERT itself reads: without subscriptions the alerts' intake never looks at it.
* The poller's row: `lease` (one poller across replicas, as for operations; the lease is taken
  in the UPDATE's own WHERE, so of two processes exactly one gets it), `advance` (the cursor,
  with the lease checked), `release`.
* `prune` drops events older than Polytomic keeps them (48 hours).

Events write only the `event_*`, `hinted_at` and `next_poll_at` columns of an operation, which
no pass writes but `next_poll_at` (see OperationStore.release: a pass never postpones a hint
that landed during it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, case, delete, exists, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.alerts.rules import TERMINAL
from bot.clock import SYSTEM_CLOCK, Clock
from bot.db import direct
from bot.db.engine import Database
from bot.db.models import EVENT_POLLER, OPERATIONS, POLYTOMIC_EVENTS, SUBSCRIPTIONS
from bot.polytomic.events import Event

__all__ = ["RETENTION", "EventStore", "Incoming", "Taken"]

EV = POLYTOMIC_EVENTS
OPS = OPERATIONS
POLLER = EVENT_POLLER
POLLER_NAME = "events"
RETENTION = timedelta(hours=48)  # how long Polytomic keeps events readable
Source = Literal["webhook", "poll"]


# An event's hint, built once (values as parameters, as bot/db/operation_statements.py's): the
# unfinished operations of its execution are due now (the SET clause: `next_poll_at`,
# `hinted_at`, given at execution) ...
_HINT = update(OPS).where(OPS.c.execution_id == bindparam("w_execution"), OPS.c.finished_at.is_(None))
# ... and a terminal model-sync event is kept on them, unless one was already: the first
# terminal event stays, terminal is final, a later one changes nothing.
_SAID = ("event_type", "event_at", "event_error", "event_rows", "event_sync_name")
_HINT_TERMINAL = _HINT.values(
    {
        name: case(
            (OPS.c.event_type.is_(None), bindparam(f"w_{name}", type_=OPS.c[name].type)), else_=OPS.c[name]
        )
        for name in _SAID
    }
)


# An event's `alerted_at` as stored: the row's own value (None: for the alerts' intake to take
# in), unless no subscription is enabled at all, when the intake would only mark it taken, so it
# is stored taken (no look, read nor write of the intake's for it). Decided in the INSERT
# itself, so a subscription enabled before the event is stored always sees it pending.
_ALERTED_AT = case(
    (
        exists().where(SUBSCRIPTIONS.c.disabled_at.is_(None)),
        bindparam("w_alerted_at", type_=EV.c.alerted_at.type),
    ),
    else_=bindparam("w_taken_at", type_=EV.c.alerted_at.type),
)


@dataclass(frozen=True)
class Incoming:
    """One event to store: its dedupe key, the parsed event, and its JSON: the text as
    received (a webhook's body, stored as it came), a value to serialize, or None for the
    event's own `as_json()`, made only if the event is new to the store (a polled page is
    mostly events stored already)."""

    key: str
    event: Event
    raw: dict[str, Any] | str | None = None

    def text(self) -> str:
        if isinstance(self.raw, str):
            return self.raw
        value = self.event.as_json() if self.raw is None else self.raw
        return json.dumps(value, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Taken:
    """What `take` did with a batch: the events new to the store, how many were there already
    (and of those, how many another source had brought first), and the operations an event
    made due."""

    new: tuple[Event, ...]
    duplicates: int
    cross_duplicates: int
    hinted: int


# (dialect, for one row) → the events' INSERT (see EventStore._insert_ignoring_duplicates)
_INSERTS: dict[tuple[str, bool], Any] = {}


class EventStore:
    def __init__(self, db: Database, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock

    # ---- events -----------------------------------------------------------------------

    def take(self, incoming: Sequence[Incoming], source: Source) -> Taken:
        """Store each event once and leave its hint on the operations it concerns (see the
        module docstring); one transaction for the whole batch."""
        if not incoming:
            return Taken((), 0, 0, 0)
        now = self.clock.now()
        unique = list({item.key: item for item in incoming}.values())
        duplicates = len(incoming) - len(unique)
        with self.db.core() as conn:
            known: dict[str, str] = {}
            if source == "poll":  # which source brought them first: only the poll's count asks
                known = dict(
                    conn.execute(
                        select(EV.c.event_key, EV.c.source).where(EV.c.event_key.in_([i.key for i in unique]))
                    ).all()
                )
            fresh = [item for item in unique if item.key not in known]
            cross = sum(1 for item in unique if item.key in known and known[item.key] != source)
            duplicates += len(unique) - len(fresh)
            inserted: set[str] = set()
            if len(fresh) == 1:
                # A webhook's one event: on the driver's cursor (bot/db/direct.py), no RETURNING;
                # the row it inserted (1) or the one already there (0) says whether it is new.
                (item,) = fresh
                single = self._insert_ignoring_duplicates(conn, one=True)
                if direct.write(conn, single, self._row(item, source, now)):
                    inserted.add(item.key)
            elif fresh:
                # One statement built once per dialect, the rows as parameters (SQLAlchemy's
                # "insertmanyvalues"): compiled once, not for every batch as `.values([...])` is.
                rows = [self._row(item, source, now) for item in fresh]
                inserted = set(conn.execute(self._insert_ignoring_duplicates(conn), rows).scalars())
            duplicates += len(fresh) - len(inserted)  # stored already (or by another process now)
            new = [item.event for item in fresh if item.key in inserted]
            hinted = sum(self._hint(conn, event, now) for event in new)
        return Taken(tuple(new), duplicates, cross, hinted)

    @staticmethod
    def _insert_ignoring_duplicates(conn: Connection, *, one: bool = False) -> Any:
        """INSERT … ON CONFLICT (event_key) DO NOTHING RETURNING event_key, for this dialect;
        `one`: for a single row, without RETURNING (nor PostgreSQL's implicit one of the id:
        `inline`), its rowcount telling whether it inserted."""
        dialect = conn.dialect.name
        statement = _INSERTS.get((dialect, one))
        if statement is None:
            if dialect == "postgresql":
                statement = pg_insert(EV).on_conflict_do_nothing(index_elements=["event_key"])
            elif dialect == "sqlite":
                statement = sqlite_insert(EV).on_conflict_do_nothing(index_elements=["event_key"])
            else:
                statement = insert(EV)
            statement = statement.values(alerted_at=_ALERTED_AT)
            statement = statement.inline() if one else statement.returning(EV.c.event_key)
            _INSERTS[(dialect, one)] = statement
        return statement

    @staticmethod
    def _row(item: Incoming, source: Source, now: datetime) -> dict[str, Any]:
        event = item.event
        return {
            "event_key": item.key,
            "type": event.type[:200],
            "execution_id": (event.execution_id or None) and str(event.execution_id)[:64],
            "sync_id": (event.sync_id or None) and str(event.sync_id)[:64],
            "created_at": event.created_at,
            "received_at": now,
            "source": source,
            "payload": item.text(),
            # Alerts take in only terminal model-sync events (bot/db/alert_intake.py): any other
            # is stored as taken already, as the intake would mark it (one write fewer each);
            # so is a terminal one while no subscription is enabled (`_ALERTED_AT`).
            "w_alerted_at": None if event.type[:200] in TERMINAL else now,
            "w_taken_at": now,
        }

    @staticmethod
    def _hint(conn: Connection, event: Event, now: datetime) -> int:
        """Make the unfinished operations of the event's execution due now; a terminal
        model-sync event is also kept on them, unless one was already. Returns how many rows
        were made due."""
        if event.family != "sync" or not event.execution_id:
            return 0  # bulk syncs are stored, not acted on (no operation tracks one yet)
        values: dict[str, Any] = {"w_execution": event.execution_id, "next_poll_at": now, "hinted_at": now}
        query = _HINT
        if event.is_terminal and event.sync is not None:
            query = _HINT_TERMINAL
            values.update(
                w_event_type=event.type,
                w_event_at=event.created_at or now,
                w_event_error=(event.sync.error or None) and event.sync.error[:2000],
                w_event_rows=event.sync.rows_written,
                w_event_sync_name=event.sync.sync_name,
            )
        return direct.write(conn, query, values)

    def count(self) -> int:
        with self.db.read_engine.connect() as conn:
            return len(conn.execute(select(EV.c.id)).all())

    def prune(self, *, keep: timedelta = RETENTION) -> int:
        """Drop events received longer ago than Polytomic keeps them."""
        with self.db.core() as conn:
            result = conn.execute(delete(EV).where(EV.c.received_at < self.clock.now() - keep))
        return int(result.rowcount or 0)

    # ---- the poller's row --------------------------------------------------------------

    def lease(self, owner: str, ttl: float) -> datetime | Literal[False] | None:
        """Take or renew the poller's lease for `ttl` seconds. False when another process
        holds it; else the cursor (None before the first poll)."""
        now = self.clock.now()
        expires = now + timedelta(seconds=ttl)
        with self.db.core() as conn:
            if conn.execute(select(POLLER.c.name).where(POLLER.c.name == POLLER_NAME)).first() is None:
                conn.execute(self._insert_poller(conn))
            won = conn.execute(
                update(POLLER)
                .where(
                    POLLER.c.name == POLLER_NAME,
                    or_(
                        POLLER.c.lease_owner.is_(None),
                        POLLER.c.lease_owner == owner,
                        POLLER.c.lease_expires_at < now,
                    ),
                )
                .values(lease_owner=owner, lease_expires_at=expires)
            ).rowcount
            if not won:
                return False
            cursor: datetime | None = conn.scalar(select(POLLER.c.cursor).where(POLLER.c.name == POLLER_NAME))
        return cursor

    def _insert_poller(self, conn: Connection) -> Any:
        values = {"name": POLLER_NAME}
        if conn.dialect.name == "postgresql":
            return pg_insert(POLLER).values(values).on_conflict_do_nothing(index_elements=["name"])
        return sqlite_insert(POLLER).values(values).on_conflict_do_nothing(index_elements=["name"])

    def advance(self, owner: str, cursor: datetime | None) -> bool:
        """Move the cursor (only while `owner` holds the lease, and never backwards)."""
        now = self.clock.now()
        query = update(POLLER).where(POLLER.c.name == POLLER_NAME, POLLER.c.lease_owner == owner)
        if cursor is not None:
            query = query.where(or_(POLLER.c.cursor.is_(None), POLLER.c.cursor <= cursor))
            values: dict[str, Any] = {"cursor": cursor, "polled_at": now}
        else:
            values = {"polled_at": now}
        with self.db.core() as conn:
            return bool(conn.execute(query.values(**values)).rowcount)

    def release(self, owner: str) -> None:
        with self.db.core() as conn:
            conn.execute(
                update(POLLER)
                .where(POLLER.c.name == POLLER_NAME, POLLER.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def poller_row(self) -> dict[str, Any] | None:
        with self.db.read_engine.connect() as conn:
            row = conn.execute(select(POLLER).where(POLLER.c.name == POLLER_NAME)).first()
        return dict(row._mapping) if row is not None else None
