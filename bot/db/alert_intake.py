"""The alerts' intake verbs (part of bot.db.alerts.AlertStore): a stored terminal event taken
in once, in every channel that hears of its sync.

`look` reads a batch of events not taken in yet (one read; the payload is parsed only when
asked for), and `mark` takes in, in one conditional UPDATE, those no subscription covers (every
one that is not a terminal model-sync event, and the rest when no enabled subscription can
match them): `WHERE alerted_at IS NULL`, so of two processes marking the same events each event
is marked once, and an event marked there changes no alert row.

`take_in` first marks the event (`UPDATE … SET alerted_at WHERE alerted_at IS NULL`): of two
processes only one wins, and the loser's transaction does nothing. In the same transaction, in
each channel, a failure joins the open streak (one `alert_failures` row per execution: a
duplicated event adds nothing) or opens one (the partial unique index `uq_alerts_open_streak`:
one open streak per sync and channel), and a success closes it; a run ending outside a streak
is a notice where the mode asks for one. A race on the index rolls the whole event back
(IntegrityError), to be taken in again at the next look. Nothing an event says moves a streak
backwards: a failure older than the recovery that closed the last streak, or a success older
than the streak's last failure, changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.alerts.rules import FAILED, SUCCEEDED, TERMINAL, RunEnded, notice_due
from bot.clock import Clock
from bot.db.engine import Database
from bot.db.models import ALERT_FAILURES, ALERTS, POLYTOMIC_EVENTS

AL, FA, EV = ALERTS, ALERT_FAILURES, POLYTOMIC_EVENTS


@dataclass(frozen=True)
class Pending:
    """A stored event not yet taken in: its id, type, sync (as stored) and its JSON text,
    parsed on first use (`payload`): an event no subscription covers is never parsed."""

    id: int
    type: str
    sync_id: str | None
    text: str

    @cached_property
    def payload(self) -> dict[str, Any]:
        value = json.loads(self.text)
        return value if isinstance(value, dict) else {}


def _insert_ignoring(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


class IntakeVerbs:
    db: Database
    clock: Clock

    # ---- intake ----------------------------------------------------------------------

    def look(self, limit: int = 100) -> list[Pending]:
        """Events not taken in yet, oldest first, whatever their type; one read, no write (an
        idle loop takes no write lock)."""
        with self.db.read_engine.connect() as conn:
            rows = conn.execute(
                select(EV.c.id, EV.c.type, EV.c.sync_id, EV.c.payload)
                .where(EV.c.alerted_at.is_(None))
                .order_by(EV.c.created_at, EV.c.id)
                .limit(limit)
            ).all()
        return [Pending(row.id, row.type, row.sync_id, row.payload) for row in rows]

    def mark(self, event_ids: Sequence[int]) -> int:
        """Take these events in without applying them (nothing covers them), in one
        conditional UPDATE; returns how many this call marked (another process may have)."""
        if not event_ids:
            return 0
        with self.db.core() as conn:
            result = conn.execute(
                update(EV)
                .where(EV.c.id.in_(list(event_ids)), EV.c.alerted_at.is_(None))
                .values(alerted_at=self.clock.now())
            )
        return int(result.rowcount or 0)

    def pending(self, limit: int = 100) -> list[Pending]:
        """Terminal model-sync events not taken in yet, oldest first; the other events are
        marked on the way (alerts never look at them)."""
        rows = self.look(limit)
        self.mark([row.id for row in rows if row.type not in TERMINAL])
        return [row for row in rows if row.type in TERMINAL]

    def take_in(self, event_id: int, run: RunEnded | None, channels: Mapping[str, str]) -> bool:
        """Take one event in: mark it, and apply it in each channel (channel → widest mode).
        False when another process took it first (nothing written). Raises IntegrityError when
        a concurrent intake opened the same streak: nothing is written, the next look retries."""
        now = self.clock.now()
        with self.db.core() as conn:
            won = conn.execute(
                update(EV).where(EV.c.id == event_id, EV.c.alerted_at.is_(None)).values(alerted_at=now)
            ).rowcount
            if not won:
                return False
            if run is not None:
                for channel_id, mode in sorted(channels.items()):
                    self._apply(conn, channel_id, mode, run, now)
        return True

    def _apply(self, conn: Connection, channel_id: str, mode: str, run: RunEnded, now: datetime) -> None:
        here = (AL.c.channel_id == channel_id, AL.c.sync_id == run.sync_id)
        open_ = conn.execute(select(AL).where(*here, AL.c.state == "open")).first()
        at = run.at or now
        due = {"next_poll_at": now, "hinted_at": now, "finished_at": None, "updated_at": now}
        if run.type in FAILED:
            last = {
                "last_execution_id": run.execution_id,
                "last_status": run.type.removeprefix("sync."),
                "last_error": (run.error or None) and run.error[:4000],
                "last_rows": run.rows,
                "last_at": at,
            }
            if open_ is not None:
                # RETURNING, not rowcount: what a driver counts for DO NOTHING varies.
                added = conn.execute(
                    _insert_ignoring(conn, FA)
                    .values(self._failure(open_.id, open_.failures + 1, run, at, None))
                    .returning(FA.c.id)
                ).first()
                if added is not None:
                    conn.execute(
                        update(AL)
                        .where(AL.c.id == open_.id)
                        .values(
                            failures=AL.c.failures + 1,
                            sync_name=run.sync_name or open_.sync_name,
                            **last,
                            **due,
                        )
                    )
                return
            recovered: datetime | None = conn.scalar(
                select(func.max(AL.c.recovered_at)).where(*here, AL.c.state == "recovered")
            )
            if recovered is not None and run.at is not None and run.at < recovered:
                return  # older than the success that closed the last streak: nothing moves back
            new_id = self._insert_alert(conn, channel_id, run, "streak", "open", now, failures=1, **last)
            if new_id is not None:
                conn.execute(insert(FA).values(self._failure(new_id, 1, run, at, "-")))
            return
        if run.type == SUCCEEDED and open_ is not None:
            if open_.last_at is not None and run.at is not None and run.at < open_.last_at:
                return  # a success older than the streak's last failure closes nothing
            conn.execute(
                update(AL)
                .where(AL.c.id == open_.id, AL.c.state == "open")
                .values(
                    state="recovered",
                    recovered_at=at,
                    recovered_execution_id=run.execution_id,
                    recovered_rows=run.rows,
                    **due,
                )
            )
            return
        if open_ is None and notice_due(mode, run.type):
            self._insert_alert(
                conn,
                channel_id,
                run,
                "notice",
                "notice",
                now,
                failures=0,
                last_execution_id=run.execution_id,
                last_status=run.type.removeprefix("sync."),
                last_error=(run.error or None) and run.error[:4000],
                last_rows=run.rows,
                last_at=at,
            )

    @staticmethod
    def _failure(alert_id: int, seq: int, run: RunEnded, at: datetime, reply: str | None) -> dict[str, Any]:
        return {
            "alert_id": alert_id,
            "seq": seq,
            "execution_id": run.execution_id,
            "status": run.type.removeprefix("sync."),
            "error": (run.error or None) and run.error[:4000],
            "rows": run.rows,
            "at": at,
            "reply_ts": reply,
        }

    @staticmethod
    def _insert_alert(
        conn: Connection, channel_id: str, run: RunEnded, kind: str, state: str, now: datetime, **values: Any
    ) -> int | None:
        row = {
            "channel_id": channel_id,
            "sync_id": run.sync_id,
            "sync_name": run.sync_name,
            "target_connection_id": run.target_connection_id,
            "kind": kind,
            "streak_key": run.execution_id,
            "state": state,
            "covered_failures": 0,
            "created_at": now,
            "updated_at": now,
            "next_poll_at": now,
            "hinted_at": now,
            "attempts": 0,
            **values,
        }
        result = conn.execute(_insert_ignoring(conn, AL).values(row).returning(AL.c.id)).scalar()
        return None if result is None else int(result)
