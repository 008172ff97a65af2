"""The stops' store: every statement on `stop_prompts`, `stops` and `stop_syncs`.

A *stop* is many syncs canceled, paused or resumed from one confirm click (bot/selectors.py
says why it is not called an incident). Its exactly-once rules, all in the database:

* **The prompt** is a row (`save_prompt`): the syncs selected and the run of each at prompt
  time, expiring after PROMPT_TTL. Its buttons carry only its ID.
* **A click** writes only with conditional statements one click can win:
  - `confirm`: the stop and its syncs, in one transaction; the unique `prompt_id` makes a double
    click, a replay or a second replica lose (`AlreadyConfirmed`, the winner's ID);
  - `abort`: `aborted_at`, only while the stop is not final and not aborted;
  - `ask_resume`: `resume_asked_at`, only on a final stop not asked before.
* **A pass** (bot/tracker/stop_pass.py) writes only under the stop's lease, as for operations:
  `claim`, `save`, `save_member` (a sync's pause or resume as it landed), `release`, `finish`.
* **Its operations** (one a sync to cancel, bound to the run at prompt time) are inserted with the
  stop, in the confirm's transaction; the tracker takes each through the single cancel's machine.
* **An operation of the stop** that changes state makes the stop due (`hint`, called by the
  operations store in the same transaction): when the summary may next be edited, or now for the
  last one, so the final summary follows at once; a release never postpones a hint.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.audit import Event, insert_event
from bot.db.bounds import CLICK_SECONDS
from bot.db.engine import Database
from bot.db.models import OPERATIONS, STOP_PROMPTS, STOP_SYNCS, STOPS, Operation, Stop, StopPrompt, StopSync

OPS = OPERATIONS
PROMPT_TTL = timedelta(minutes=10)
MAX_STOP = 2000  # syncs one stop may hold; a prompt beyond it says so and offers no button
CANCELING_KINDS = ("cancel", "cancel_and_pause")
KINDS = (*CANCELING_KINDS, "pause", "resume")


class LeaseLost(Exception):
    """Another process holds this stop now: stop touching it."""


@dataclass(frozen=True)
class Picked:
    """One sync a prompt showed: its ID, name, and the run it was bound to (None: not running)."""

    sync_id: str
    name: str | None
    execution_id: str | None


@dataclass(frozen=True)
class AlreadyConfirmed:
    stop_id: int


@dataclass(frozen=True)
class Expired:
    prompt: StopPrompt


def _lease_free(now: datetime) -> Any:
    return or_(STOPS.c.lease_owner.is_(None), STOPS.c.lease_expires_at < now)


_UNSETTLED = ("confirmed", "canceling")  # an operation of a stop that may still change the summary


def hint(conn: Connection, op_id: int, stop_id: int, now: datetime, *, final: bool) -> None:
    """An operation of this stop changed state (the operations store calls this in the
    transaction of the change): the stop is due when its summary may next be edited
    (`quiet_until`), or now when this was its last unsettled operation, so the final summary
    is not held back. Never later than it was due already."""
    target: Any = case((STOPS.c.quiet_until > now, STOPS.c.quiet_until), else_=now)
    if final:
        others = (
            select(OPS.c.id)
            .where(OPS.c.stop_id == stop_id, OPS.c.id != op_id, OPS.c.state.in_(_UNSETTLED))
            .exists()
        )
        target = case((~others, now), else_=target)
    conn.execute(
        update(STOPS)
        .where(STOPS.c.id == stop_id, STOPS.c.finished_at.is_(None))
        .values(
            next_poll_at=case((STOPS.c.next_poll_at < target, STOPS.c.next_poll_at), else_=target),
            hinted_at=now,
        )
    )


class StopStore:
    def __init__(self, db: Database, *, clock: Clock = SYSTEM_CLOCK, lease_ttl: float = 60.0) -> None:
        self.db = db
        self.clock = clock
        self.lease_ttl = lease_ttl

    # ---- the prompt ---------------------------------------------------------------------

    def save_prompt(
        self,
        *,
        verb: str,
        command: str,
        label: str,
        requested_by: str,
        team_id: str | None,
        channel_id: str,
        syncs: Sequence[Picked],
    ) -> str:
        now = self.clock.now()
        prompt_id = secrets.token_urlsafe(16)[:22]
        payload = json.dumps([{"s": p.sync_id, "n": p.name, "e": p.execution_id} for p in syncs])
        with self.db.core() as conn:
            conn.execute(
                insert(STOP_PROMPTS).values(
                    id=prompt_id,
                    verb=verb,
                    command=command,
                    label=label,
                    requested_by=requested_by,
                    team_id=team_id,
                    channel_id=channel_id,
                    syncs=payload,
                    created_at=now,
                    expires_at=now + PROMPT_TTL,
                )
            )
            # Expired prompts are of no use to anyone: drop them as new ones come.
            conn.execute(STOP_PROMPTS.delete().where(STOP_PROMPTS.c.expires_at < now - PROMPT_TTL))
        return prompt_id

    def get_prompt(self, prompt_id: str) -> StopPrompt | None:
        with self.db.read() as session:
            return session.get(StopPrompt, prompt_id)

    # ---- clicks ---------------------------------------------------------------------------

    def confirm(
        self,
        prompt_id: str,
        *,
        with_pause: bool,
        clicker: str,
        response_url: str | None,
        incident_channel: str | None,
        poll_timeout: float,
    ) -> int | AlreadyConfirmed | Expired | None:
        """The confirm click: the new stop's ID; AlreadyConfirmed (a double click, a replay, a
        second replica); Expired (ask again); None (no such prompt)."""
        now = self.clock.now()
        with self.db.core() as conn:
            existing = conn.scalar(select(STOPS.c.id).where(STOPS.c.prompt_id == prompt_id))
            if existing is not None:
                return AlreadyConfirmed(int(existing))
            row = conn.execute(select(STOP_PROMPTS).where(STOP_PROMPTS.c.id == prompt_id)).first()
            if row is None:
                return None
            prompt = StopPrompt(**row._mapping)
            if prompt.expires_at <= now:
                return Expired(prompt)
        with_pause = with_pause and prompt.verb == "cancel"
        kind = "cancel_and_pause" if with_pause else "cancel" if prompt.verb == "cancel" else prompt.verb
        picked = [Picked(p["s"], p.get("n"), p.get("e")) for p in json.loads(prompt.syncs)]
        try:
            # Within CLICK_SECONDS, as a single confirm click: the ack can still say what happened.
            with self.db.core(within=CLICK_SECONDS) as conn:
                key = conn.execute(
                    insert(STOPS).values(
                        prompt_id=prompt_id,
                        kind=kind,
                        label=prompt.label,
                        requested_by=clicker,
                        team_id=prompt.team_id,
                        channel_id=prompt.channel_id,
                        response_url=response_url,
                        incident_channel=incident_channel,
                        size=len(picked),
                        created_at=now,
                        updated_at=now,
                        prompt_cleared=False,
                        next_poll_at=now,
                        attempts=0,
                    )
                ).inserted_primary_key
                assert key is not None
                stop_id = int(key[0])
                if picked:
                    conn.execute(
                        insert(STOP_SYNCS),
                        [
                            {
                                "stop_id": stop_id,
                                "sync_id": p.sync_id,
                                "sync_name": p.name,
                                "execution_id": p.execution_id,
                            }
                            for p in picked
                        ],
                    )
                cancels = [p for p in picked if p.execution_id is not None]
                if kind in CANCELING_KINDS and cancels:
                    # One operation a sync, bound to the run it had at prompt time; the tracker
                    # takes them through the single cancel's machine, `workers` at a time.
                    conn.execute(
                        insert(OPS),
                        [_operation(stop_id, kind, clicker, prompt, p, now, poll_timeout) for p in cancels],
                    )
                insert_event(
                    conn,
                    now,
                    actor=clicker,
                    action=f"stop.{kind}",
                    outcome=f"confirmed for {len(picked)} syncs",
                    channel_id=prompt.channel_id,
                )
        except IntegrityError:
            existing = self._stop_of_prompt(prompt_id)
            if existing is None:
                raise
            return AlreadyConfirmed(existing)
        return stop_id

    def _stop_of_prompt(self, prompt_id: str) -> int | None:
        with self.db.read_engine.connect() as conn:
            found = conn.scalar(select(STOPS.c.id).where(STOPS.c.prompt_id == prompt_id))
        return None if found is None else int(found)

    def abort(self, stop_id: int, *, by: str, channel_id: str) -> bool:
        """Abort the rest: no further cancel or pause is sent. One click wins (True)."""
        now = self.clock.now()
        with self.db.core() as conn:
            won = conn.execute(
                update(STOPS)
                .where(STOPS.c.id == stop_id, STOPS.c.aborted_at.is_(None), STOPS.c.final_at.is_(None))
                .values(aborted_at=now, aborted_by=by, next_poll_at=now, hinted_at=now, updated_at=now)
            ).rowcount
            insert_event(
                conn,
                now,
                actor=by,
                action="stop.abort",
                outcome="aborted" if won else "already final or aborted",
                channel_id=channel_id,
            )
        return bool(won)

    def ask_resume(self, stop_id: int, *, by: str, channel_id: str) -> bool:
        """Resume the N schedules: on a final stop, once (True for the click that wins)."""
        now = self.clock.now()
        with self.db.core() as conn:
            won = conn.execute(
                update(STOPS)
                .where(
                    STOPS.c.id == stop_id, STOPS.c.final_at.is_not(None), STOPS.c.resume_asked_at.is_(None)
                )
                .values(
                    resume_asked_at=now, resume_asked_by=by, finished_at=None, next_poll_at=now, hinted_at=now
                )
            ).rowcount
            insert_event(
                conn,
                now,
                actor=by,
                action="stop.resume",
                outcome="asked" if won else "already asked",
                channel_id=channel_id,
            )
        return bool(won)

    # ---- reads ----------------------------------------------------------------------------

    def get(self, stop_id: int) -> Stop | None:
        with self.db.read() as session:
            return session.get(Stop, stop_id)

    def members(self, stop_id: int) -> list[StopSync]:
        with self.db.read() as session:
            return list(
                session.scalars(select(StopSync).where(StopSync.stop_id == stop_id).order_by(StopSync.id))
            )

    def operations(self, stop_id: int) -> list[Operation]:
        with self.db.read() as session:
            return list(
                session.scalars(select(Operation).where(Operation.stop_id == stop_id).order_by(Operation.id))
            )

    def paused_by_the_bot(self, sync_ids: Sequence[str]) -> dict[str, StopSync]:
        """For each of these syncs, the latest stop that paused its schedule (it was active before)
        and has not resumed it."""
        if not sync_ids:
            return {}
        with self.db.read() as session:
            rows = session.scalars(
                select(StopSync)
                .where(
                    StopSync.sync_id.in_(list(sync_ids)),
                    StopSync.paused_at.is_not(None),
                    StopSync.was_active.is_(True),
                    StopSync.resumed_at.is_(None),
                )
                .order_by(StopSync.id)
            )
            return {row.sync_id: row for row in rows}

    def next_due(self) -> datetime | None:
        with self.db.read_engine.connect() as conn:
            due: datetime | None = conn.scalar(
                select(func.min(STOPS.c.next_poll_at)).where(
                    STOPS.c.finished_at.is_(None), STOPS.c.lease_owner.is_(None)
                )
            )
        return due

    # ---- the tracker's passes -------------------------------------------------------------

    def claim(self, owner: str, limit: int) -> list[Stop]:
        now = self.clock.now()
        due = (
            select(STOPS.c.id)
            .where(STOPS.c.finished_at.is_(None), STOPS.c.next_poll_at <= now, _lease_free(now))
            .order_by(STOPS.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.db.core() as conn:
            rows = conn.execute(
                update(STOPS)
                .where(STOPS.c.id.in_(due.scalar_subquery()), _lease_free(now))
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=self.lease_ttl))
                .returning(*STOPS.c)
            ).all()
        return [Stop(**row._mapping) for row in rows]

    def _held(
        self, conn: Connection, stop_id: int, owner: str, changes: Mapping[str, Any] | None = None
    ) -> None:
        now = self.clock.now()
        values = {
            **(changes or {}),
            "updated_at": now,
            "lease_expires_at": now + timedelta(seconds=self.lease_ttl),
        }
        done = conn.execute(
            update(STOPS).where(STOPS.c.id == stop_id, STOPS.c.lease_owner == owner).values(**values)
        ).rowcount
        if done != 1:
            raise LeaseLost(stop_id)

    def save(self, stop: Stop, owner: str, changes: Mapping[str, Any], *, audit: Event | None = None) -> None:
        with self.db.core() as conn:
            self._held(conn, stop.id, owner, changes)
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(stop, name, value)

    def save_member(
        self,
        stop: Stop,
        owner: str,
        member: StopSync,
        changes: Mapping[str, Any],
        *,
        audit: Event | None = None,
    ) -> None:
        """A sync's pause or resume as it landed, under the stop's lease, with its audit row."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            conn.execute(update(STOP_SYNCS).where(STOP_SYNCS.c.id == member.id).values(**changes))
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(member, name, value)

    def save_operation_resume(
        self, stop: Stop, owner: str, op: Operation, changes: Mapping[str, Any], *, audit: Event | None = None
    ) -> None:
        """A cancel-and-pause sync's schedule resumed by its stop's Resume button, under the
        stop's lease; only a schedule not resumed yet (a single Resume click may have won)."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            conn.execute(update(OPS).where(OPS.c.id == op.id, OPS.c.resumed_at.is_(None)).values(**changes))
            if audit is not None:
                insert_event(conn, self.clock.now(), **audit)
        for name, value in changes.items():
            setattr(op, name, value)

    def mark_resumed(self, stop: Stop, owner: str, sync_id: str, at: datetime) -> None:
        """A resume stop reactivated this schedule: the pauses it undid (other stops' syncs, or
        single cancel-and-pause operations) are resumed too, so nobody resumes them twice."""
        with self.db.core() as conn:
            self._held(conn, stop.id, owner)
            conn.execute(
                update(STOP_SYNCS)
                .where(
                    STOP_SYNCS.c.sync_id == sync_id,
                    STOP_SYNCS.c.stop_id != stop.id,
                    STOP_SYNCS.c.paused_at.is_not(None),
                    STOP_SYNCS.c.resumed_at.is_(None),
                )
                .values(resumed_at=at)
            )
            conn.execute(
                update(OPS)
                .where(OPS.c.sync_id == sync_id, OPS.c.paused_at.is_not(None), OPS.c.resumed_at.is_(None))
                .values(resumed_at=at, resumed_by=stop.requested_by)
            )

    def renew(self, owner: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        expires = self.clock.now() + timedelta(seconds=self.lease_ttl)
        with self.db.core() as conn:
            conn.execute(
                update(STOPS)
                .where(STOPS.c.id.in_(ids), STOPS.c.lease_owner == owner)
                .values(lease_expires_at=expires)
            )

    def release(self, stop: Stop, owner: str, *, next_at: datetime, hinted_at: datetime | None) -> None:
        with self.db.core() as conn:
            conn.execute(
                update(STOPS)
                .where(STOPS.c.id == stop.id, STOPS.c.lease_owner == owner)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    # A hint during the pass (an operation changed) may have made it due sooner.
                    next_poll_at=case(
                        (STOPS.c.hinted_at.is_not_distinct_from(hinted_at), next_at),
                        (STOPS.c.next_poll_at < next_at, STOPS.c.next_poll_at),
                        else_=next_at,
                    ),
                )
            )

    def finish(self, stop: Stop, owner: str) -> bool:
        """Done, unless a click (a resume, an abort) or a hint came during the pass."""
        with self.db.core() as conn:
            return bool(
                conn.execute(
                    update(STOPS)
                    .where(
                        STOPS.c.id == stop.id,
                        STOPS.c.lease_owner == owner,
                        STOPS.c.hinted_at.is_not_distinct_from(stop.hinted_at),
                        and_(STOPS.c.resume_asked_at.is_not_distinct_from(stop.resume_asked_at)),
                    )
                    .values(finished_at=self.clock.now(), lease_owner=None, lease_expires_at=None)
                ).rowcount
            )

    def release_all(self, owner: str | None) -> None:
        query = update(STOPS).values(lease_owner=None, lease_expires_at=None)
        if owner is not None:
            query = query.where(STOPS.c.lease_owner == owner)
        with self.db.core() as conn:
            conn.execute(query)


def _operation(
    stop_id: int,
    kind: str,
    clicker: str,
    prompt: StopPrompt,
    picked: Picked,
    now: datetime,
    poll_timeout: float,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "sync_id": picked.sync_id,
        "sync_name": picked.name,
        "execution_id": picked.execution_id,
        "team_id": prompt.team_id,
        "requested_by": clicker,
        "channel_id": prompt.channel_id,
        "response_url": None,
        "incident_channel": None,
        "state": "confirmed",
        "created_at": now,
        "updated_at": now,
        "deadline_at": now + timedelta(seconds=poll_timeout),
        "next_poll_at": now,
        "cancel_attempt": 1,
        "attempts": 0,
        "stop_id": stop_id,
    }
