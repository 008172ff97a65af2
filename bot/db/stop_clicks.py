"""The stops' clicks (bot/db/stops.py holds the rest of the store): the prompt's row, and the
conditional statements of the confirm, Abort the rest and Resume the N schedules clicks, each of
which one click can win. `StopStore` inherits these; the contract is in bot/db/stops.py's
docstring.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.db.audit import insert_event
from bot.db.bounds import CLICK_SECONDS
from bot.db.engine import Database
from bot.db.models import OPERATIONS, STOP_PROMPTS, STOP_SYNCS, STOPS, StopPrompt

OPS = OPERATIONS
PROMPT_TTL = timedelta(minutes=10)
MAX_STOP = 2000  # syncs one stop may hold; a prompt beyond it says so and offers no button
CANCELING_KINDS = ("cancel", "cancel_and_pause")


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


class StopClicks:
    db: Database
    clock: Clock

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
