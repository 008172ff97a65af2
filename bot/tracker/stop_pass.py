"""One pass over one claimed stop: its pauses and resumes, its one summary message, its thread
replies, and the incident channel's notice and outcome.

The syncs of a stop that are canceled are operations of their own (inserted with the stop),
taken through the single cancel's machine by the tracker's workers, so cancels go out at most
`workers` at a time, each honouring Retry-After, and each bound to the run its prompt showed;
they post nothing themselves (bot.operations.in_stop). While they go on, the stop's pass comes
back when its summary may next be edited (at most every SUMMARY_EVERY seconds, wider for a long
stop); the last of them to settle makes the stop due at once (bot/db/stops.py `hint`), so the
final summary is not held back.

A pause (`pause …`) or a resume is done here, PAUSE_BATCH syncs a pass, CONCURRENCY at a time;
whether a schedule was active is read just before pausing it, and only a schedule that was is
ever resumed. Every effect is written under the stop's lease as it lands, so a restart, a second
replica or a replayed click never repeats one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.db.audit import Event
from bot.db.models import Stop, StopSync
from bot.db.operations import OperationStore
from bot.db.stops import LeaseLost, StopStore, TalliedOperation
from bot.permissions import Authorizer
from bot.polytomic import PolytomicClient, PolytomicError
from bot.slack import SlackError, SlackGateway, respond
from bot.stops import (
    CANCELING_KINDS,
    Tally,
    may_resume,
    pending_pauses,
    resumable_members,
    resumable_ops,
    tally,
)
from bot.tracker import posts
from bot.tracker.outcome import Doing, Outcome, from_error
from bot.views import stops as views

log = logging.getLogger("bot.tracker")

SUMMARY_EVERY = 2.0  # seconds between edits of a summary while its syncs are stopping, at least
SPREAD = 8.0  # ... and at least its age divided by this (a long stop is edited less often)
PAUSE_BATCH = 16  # pauses or resumes a pass sends at most (then it is due again at once)
CONCURRENCY = 8  # of those, at once
IDLE_LOOK = 30.0  # seconds between passes of a stop nothing hints (a fallback)

SUMMARY = posts.Message(
    ts="summary_ts",
    error="summary_error",
    digest="summary_digest",
    gone=frozenset({"message_not_found"}),
    repost=True,
)
INCIDENT_NOTICE = posts.Message(ts="incident_ts", error="incident_error")
INCIDENT_OUTCOME = posts.Message(ts="incident_final_ts", error="incident_error")
FAILURES = posts.Message(ts="failures_ts", error="summary_error")
RESUMED = posts.Message(ts="resumed_ts", error="summary_error")


@dataclass(frozen=True)
class StopProcessed:
    stop_id: int
    finished: bool
    next_at: datetime | None
    problem: str | None = None


@dataclass(frozen=True)
class _Done:
    """What one remote call for one sync came to: the fields to record, or a failure."""

    member: StopSync | TalliedOperation
    changes: dict[str, Any]
    audit: str | None = None
    retry_after: float | None = None


class StopReconciler:
    def __init__(
        self,
        stops: StopStore,
        operations: OperationStore,
        polytomic: PolytomicClient,
        slack: SlackGateway,
        authorizer: Authorizer,
        settings: Settings,
        *,
        owner: str,
        clock: Clock,
        on_change: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self.stops = stops
        self.operations = operations
        self.polytomic = polytomic
        self.slack = slack
        self.authorizer = authorizer
        self.settings = settings
        self.owner = owner
        self.clock = clock
        # Told who asked for a stop when its summary changed: their open Home tab shows its
        # counts (bot/answers/home_loop.py). Its operations do not tell it one by one.
        self.on_change = on_change

    def process(self, stop: Stop) -> StopProcessed:
        before = stop.summary_digest
        try:
            return StopPass(self, stop).run()
        except LeaseLost:
            log.warning("stop lease lost", extra={"stop_id": stop.id})
            return StopProcessed(stop.id, finished=False, next_at=None, problem="lease lost")
        except Exception as error:
            log.exception("stop step failed", extra={"stop_id": stop.id})
            later = self.clock.now() + timedelta(seconds=30)
            self.stops.release(stop, self.owner, next_at=later, hinted_at=stop.hinted_at)
            return StopProcessed(stop.id, finished=False, next_at=later, problem=type(error).__name__)
        finally:
            if stop.summary_digest != before and self.on_change is not None:
                try:
                    self.on_change([stop.requested_by])
                except Exception:  # a Home tab a little late is no reason to fail the pass
                    log.exception("could not tell the Home tab of a change", extra={"stop_id": stop.id})


class StopPass:
    def __init__(self, r: StopReconciler, stop: Stop) -> None:
        self.r = r
        self.stop = stop
        self.now = r.clock.now()
        self.hinted_at = stop.hinted_at
        self.wants: list[float] = []

    def save(self, **changes: Any) -> None:
        self.r.stops.save(self.stop, self.r.owner, changes)

    def take(self, outcome: Outcome) -> None:
        if outcome.delay is not None:
            self.wants.append(outcome.delay)
        elif outcome.failed:
            self.wants.append(self.r.settings.poll_interval)

    def keep(self, message: posts.Message, view: Any, channel: str, **kwargs: Any) -> Outcome:
        return posts.keep(
            self.r.slack,
            self.stop,
            message,
            view,
            channel=channel,
            record=self.save,
            holder=f"stop-{self.stop.id}",
            **kwargs,
        )

    # ---- the pass ------------------------------------------------------------------------

    def run(self) -> StopProcessed:
        stop = self.stop
        if not stop.prompt_cleared:
            if stop.response_url:
                respond(stop.response_url, None, delete_original=True)
            self.save(prompt_cleared=True)
        if stop.incident_channel and stop.incident_ts is None:
            self.take(self.keep(INCIDENT_NOTICE, views.stop_notice(stop), stop.incident_channel))
        # A cancel's syncs are its operations; the members matter to a pause or a resume.
        members = self.r.stops.members(stop.id) if stop.kind not in CANCELING_KINDS else []
        self.pauses(members)
        ops = self.r.stops.tallied(stop.id) if stop.kind in CANCELING_KINDS else []
        if stop.resume_asked_at is not None or stop.kind == "resume":
            self.resumes(members, ops)
        t = tally(stop, members, ops)
        final = t.settled and not pending_pauses(stop, members)
        if final and stop.final_at is None:
            self.save(final_at=self.now)
        resumable = may_resume(stop, members, ops)
        self.summary(t, final=final, resumable=resumable)
        if final:
            self.replies(t)
        finished = (
            final
            and (
                stop.summary_error is not None
                or stop.summary_digest == self._summary(t, True, resumable).digest()
            )
            and (not t.failures or stop.failures_ts is not None or stop.summary_error is not None)
            and (
                not stop.incident_channel
                or stop.incident_final_ts is not None
                or stop.incident_error is not None
            )
            and not (
                stop.resume_asked_at is not None and (resumable_ops(ops) or resumable_members(stop, members))
            )
            and (
                stop.resume_asked_at is None or stop.resumed_ts is not None or stop.summary_error is not None
            )
            and not self.wants
        )
        if not final and stop.kind in CANCELING_KINDS:
            # Its operations go on: look at them again when the summary may next be edited (the
            # last one to settle makes the stop due at once: bot/db/stops.py `hint`).
            quiet = stop.quiet_until
            if quiet is not None and quiet > self.now:
                self.wants.append((quiet - self.now).total_seconds())
            else:
                self.wants.append(self.spacing())
        if finished and self.r.stops.finish(stop, self.r.owner):
            return StopProcessed(stop.id, finished=True, next_at=None)
        delay = min(self.wants) if self.wants else (0.0 if finished else IDLE_LOOK)
        next_at = self.r.clock.now() + timedelta(seconds=max(0.0, delay))
        self.r.stops.release(stop, self.r.owner, next_at=next_at, hinted_at=self.hinted_at)
        return StopProcessed(stop.id, finished=False, next_at=next_at)

    def _summary(self, t: Tally, final: bool, resumable: int) -> Any:
        return views.summary(self.stop, t, final=final, resumable=resumable)

    def summary(self, t: Tally, *, final: bool, resumable: int) -> None:
        stop = self.stop
        view = self._summary(t, final, resumable)
        quiet = stop.quiet_until
        if stop.summary_ts is not None and not final and quiet is not None and self.now < quiet:
            if stop.summary_digest != view.digest():
                self.wants.append((quiet - self.now).total_seconds())
            return
        before = stop.summary_digest
        self.take(self.keep(SUMMARY, view, stop.channel_id))
        if stop.summary_digest != before:
            edited = self.r.clock.now()
            # Every 2 s at first, then wider as the stop goes on (an eighth of its age), so that
            # even a stop that runs for half an hour edits its summary about 45 times in all:
            # its Slack calls stay within budget.
            self.save(summary_edited_at=edited, quiet_until=edited + timedelta(seconds=self.spacing()))

    def spacing(self) -> float:
        """Seconds between two edits of the summary now: SUMMARY_EVERY, or an eighth of the
        stop's age once that is more (see `summary`)."""
        age = (self.r.clock.now() - self.stop.created_at).total_seconds()
        return max(SUMMARY_EVERY, age / SPREAD)

    def replies(self, t: Tally) -> None:
        stop = self.stop
        thread = stop.summary_ts if stop.summary_error is None else None
        if t.failures and thread is not None and stop.failures_ts is None:
            self.take(
                self.keep(FAILURES, views.failures_reply(t.failures), stop.channel_id, thread_ts=thread)
            )
        resume_done = stop.resume_asked_at is not None and not self.wants
        if resume_done and thread is not None and stop.resumed_ts is None:
            self.take(self.keep(RESUMED, views.resumed_reply(stop, t), stop.channel_id, thread_ts=thread))
        if stop.incident_channel and stop.incident_ts is not None and stop.incident_final_ts is None:
            self.take(
                self.keep(
                    INCIDENT_OUTCOME,
                    views.stop_outcome(stop, t),
                    stop.incident_channel,
                    thread_ts=stop.incident_ts,
                )
            )

    # ---- pauses and resumes (a pause stop's, a resume's) -------------------------------------

    def pauses(self, members: list[StopSync]) -> None:
        batch = pending_pauses(self.stop, members)[:PAUSE_BATCH]
        if batch:
            self.record(self.fan_out(self.pause_one, batch))
            if len(pending_pauses(self.stop, members)) > 0:
                self.wants.append(0.0)

    def pause_one(self, member: StopSync) -> _Done:
        stop = self.stop
        try:
            decision = self.r.authorizer.may(stop.requested_by, "pause", member.sync_id)
            if not decision.allowed:
                return _Done(member, {"pause_error": "you may not pause it"}, audit="denied")
            active = self.r.polytomic.get_sync(member.sync_id).active is not False
            if not active:
                return _Done(member, {"was_active": False}, audit="already paused")
            self.r.polytomic.set_active(
                member.sync_id, False, idempotency_key=f"stop-{stop.id}-pause-{member.id}"
            )
        except (PolytomicError, SlackError) as error:
            outcome = from_error(error, Doing.PAUSE)
            if outcome.final:
                return _Done(member, {"pause_error": outcome.error}, audit="failed")
            return _Done(member, {}, retry_after=outcome.delay or self.r.settings.poll_interval)
        return _Done(member, {"was_active": True, "paused_at": self.r.clock.now()}, audit="paused")

    def resumes(self, members: list[StopSync], ops: list[TalliedOperation]) -> None:
        todo: list[StopSync | TalliedOperation] = [
            *resumable_members(self.stop, members),
            *resumable_ops(ops),
        ]
        batch = todo[:PAUSE_BATCH]
        if batch:
            self.record(self.fan_out(self.resume_one, batch))
            self.wants.append(0.0)  # look again: more, or the summary and the reply

    def resume_one(self, row: StopSync | TalliedOperation) -> _Done:
        stop = self.stop
        try:
            # A resume stop's click is decided again here, sync by sync, as a pause's is.
            denied = (
                stop.kind == "resume"
                and not self.r.authorizer.may(stop.requested_by, "pause", row.sync_id).allowed
            )
            if denied:
                return _Done(row, {"resume_error": "you may not resume it"}, audit="denied")
            self.r.polytomic.set_active(
                row.sync_id, True, idempotency_key=f"stop-{self.stop.id}-resume-{row.sync_id}"
            )
        except (PolytomicError, SlackError) as error:
            outcome = from_error(error, Doing.PAUSE)
            if outcome.final:
                return _Done(row, {"resume_error": outcome.error}, audit="resume failed")
            return _Done(row, {}, retry_after=outcome.delay or self.r.settings.poll_interval)
        changes: dict[str, Any] = {"resumed_at": self.r.clock.now()}
        if isinstance(row, TalliedOperation):
            changes["resumed_by"] = self.stop.resume_asked_by
        return _Done(row, changes, audit="schedule resumed")

    def fan_out(self, call: Any, rows: list[Any]) -> list[_Done]:
        if len(rows) == 1:
            return [call(rows[0])]
        with ThreadPoolExecutor(min(CONCURRENCY, len(rows)), thread_name_prefix="stop") as pool:
            return list(pool.map(call, rows))

    def record(self, results: list[_Done]) -> None:
        stop = self.stop
        for done in results:
            if done.retry_after is not None:
                self.wants.append(done.retry_after)
                continue
            audit = None
            if done.audit is not None:
                resume = "resumed_at" in done.changes or "resume_error" in done.changes
                audit = Event(
                    actor=(stop.resume_asked_by or stop.requested_by) if resume else stop.requested_by,
                    action="resume" if resume else "pause",
                    sync_id=done.member.sync_id,
                    outcome=f"{done.audit} (stop {stop.id})",
                    channel_id=stop.channel_id,
                )
            if isinstance(done.member, TalliedOperation):
                self.r.stops.save_operation_resume(stop, self.r.owner, done.member, done.changes, audit=audit)
            else:
                self.r.stops.save_member(stop, self.r.owner, done.member, done.changes, audit=audit)
                if stop.kind == "resume" and "resumed_at" in done.changes:
                    self.r.stops.mark_resumed(
                        stop, self.r.owner, done.member.sync_id, done.changes["resumed_at"]
                    )
