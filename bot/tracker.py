"""The tracker: a level-triggered reconcile loop over the operations table.

It claims due rows with a lease in the database, asks Polytomic what is true now, stores it,
and brings every Slack message about the row in line with it. It keeps nothing in memory the
row does not hold, so a restarted or different process carries on where this one stopped.
Every write is conditional on still holding the lease, so two processes never both act on
one row; every Slack effect is recorded on the row as it lands, so none is repeated.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.db.audit import Event
from bot.db.models import Operation, utcnow
from bot.db.operations import ExecutionHeld, LeaseLost, OperationStore
from bot.metrics import Metrics
from bot.operations import (
    FINAL,
    OUTCOMES,
    RELEASED,
    Binding,
    State,
    backoff,
    outcome_of,
    verify,
)
from bot.permissions import Authorizer
from bot.polytomic import (
    Conflict,
    Execution,
    PolytomicClient,
    PolytomicError,
    RateLimited,
    Unavailable,
)
from bot.slack import SlackFailure, SlackGateway, Throttled, respond
from bot.views import notes
from bot.views.blocks import View
from bot.views.incident import incident_escalation, incident_notice, incident_outcome
from bot.views.replies import released
from bot.views.status import PROGRESS_EVERY, requester_note, status_message

log = logging.getLogger("bot.tracker")

# chat.update errors after which a message stays as it is: deleted, or past the edit window.
UNEDITABLE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
MAX_BACKOFF = 300.0  # seconds between tries when something keeps failing
QUEUED_PER_WORKER = 4  # claimed rows waiting for a worker, at most (their leases are renewed)
def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Tracker:
    def __init__(
        self,
        store: OperationStore,
        polytomic: PolytomicClient,
        slack: SlackGateway,
        authorizer: Authorizer,
        settings: Settings,
        *,
        owner: str | None = None,
        workers: int = 4,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.polytomic = polytomic
        self.slack = slack
        self.authorizer = authorizer
        self.settings = settings
        self.owner = owner or new_owner_id()
        self.workers = workers
        self.capacity = workers * QUEUED_PER_WORKER
        self.metrics = metrics or Metrics()
        # Wake often enough to see new work, renew leases and notice a stop.
        self.idle_wait = min(1.0, settings.poll_interval, settings.lease_ttl / 3)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tracker")
        self._inflight: set[int] = set()
        self._inflight_changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self.last_loop_at: datetime | None = None
        self._last_renewal: datetime | None = None
        self._starved = False  # the loop stopped claiming because every slot was taken
        self._next_tick = utcnow()  # when the sleeping loop plans to look again

    # ---- the loop ------------------------------------------------------------------

    def nudge(self) -> None:
        """Look for due work now (a confirm click just landed) instead of at the next tick."""
        self._wake.set()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run_forever, name="tracker-loop", daemon=True)
        self._thread.start()
        return self._thread

    def run_forever(self) -> None:
        if self.store.db.dialect == "sqlite":
            # This process holds the SQLite file's lock, so any lease in it belongs to a dead
            # process: take the work back now instead of waiting for the leases to expire.
            self.release_all(everyone=True)
        log.info("tracker started", extra={"owner": self.owner})
        failures = 0
        while not self._stop.is_set():
            try:
                wait = self.tick()
                failures = 0
            except OperationalError as error:
                # The database is briefly away: nothing is lost (the rows wait), try again soon.
                failures += 1
                log.warning("tracker cannot reach the database: %s", type(error).__name__)
                self._stop.wait(min(30.0, 0.5 * 2**failures))
                continue
            except Exception:
                log.exception("tracker tick failed")
                self._stop.wait(1.0)
                continue
            if wait > 0:
                self._next_tick = utcnow() + timedelta(seconds=wait)
                self._wake.wait(wait)
            self._wake.clear()
        log.info("tracker stopped", extra={"owner": self.owner})

    def tick(self) -> float:
        """Claim due operations and hand them to the workers; returns how long to wait before
        the next tick (until the next row falls due, at most idle_wait)."""
        now = utcnow()
        self.last_loop_at = now
        self.renew_leases(now)
        with self._inflight_changed:
            free = self.capacity - len(self._inflight)
        if free < self.workers:
            # Claim in batches (a claim costs about the same for one row or many): a worker
            # wakes the loop once a batch's worth of slots is free.
            with self._inflight_changed:
                self._starved = True
            return self.idle_wait
        claimed = self.claim(free)
        for op in claimed:
            with self._inflight_changed:
                self._inflight.add(op.id)
            self._pool.submit(self._work, op)
        if len(claimed) == free:
            return 0.0  # there may be more due right now
        return self.until_next_due(now)

    def until_next_due(self, now: datetime) -> float:
        """Seconds until the earliest unleased row falls due (a poll is never late by a tick)."""
        due = self.store.next_due()
        if due is None:
            return self.idle_wait
        return min(self.idle_wait, max(0.0, float((due - now).total_seconds())))

    def renew_leases(self, now: datetime) -> None:
        """Heartbeat: keep the leases of operations still being worked on, so a slow remote call
        never lets another process take over a live holder's work; a dead holder stops renewing
        and its leases expire within LEASE_TTL."""
        if (
            self._last_renewal is not None
            and (now - self._last_renewal).total_seconds() < self.settings.lease_ttl / 3
        ):
            return
        with self._inflight_changed:
            ids = list(self._inflight)
        self._last_renewal = now
        self.store.renew(self.owner, ids)

    def _work(self, op: Operation) -> None:
        try:
            self.process(op)
        finally:
            with self._inflight_changed:
                self._inflight.discard(op.id)
                self._inflight_changed.notify_all()
                if self._starved and len(self._inflight) <= self.capacity - self.workers:
                    self._starved = False
                    self._wake.set()  # slots are free and there may be more due work

    def stop(self, timeout: float = 8.0) -> None:
        """Drain: claim nothing new, let in-flight steps finish, give up every lease we hold."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._inflight_changed:
            self._inflight_changed.wait_for(lambda: not self._inflight, timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.release_all()

    def release_all(self, *, everyone: bool = False) -> None:
        try:
            self.store.release_all(None if everyone else self.owner)
        except OperationalError:
            log.warning("could not release leases; they expire in %s s", self.settings.lease_ttl)

    # ---- claiming ------------------------------------------------------------------

    def claim(self, limit: int) -> list[Operation]:
        """Lease up to `limit` due rows, most overdue first."""
        now = utcnow()
        claimed = self.store.claim(self.owner, limit)
        # How late the most overdue operation is: grows when the tracker can't keep up.
        self.metrics.loop_lag.set(max(((now - op.next_poll_at).total_seconds() for op in claimed), default=0))
        return claimed

    # ---- one operation ---------------------------------------------------------------

    def process(self, op: Operation) -> None:
        try:
            self.reconcile(op)
        except LeaseLost:
            log.warning("lease lost", extra={"operation_id": op.id})
        except Exception as error:
            log.exception("operation step failed", extra={"operation_id": op.id})
            self._release(op.id, error=notes.step_failed(error))

    def _save(self, op: Operation, audit: Event | None = None, /, **changes: Any) -> None:
        """Write `changes` only while we still hold the lease, and renew it.

        A remote effect has usually just happened, so a database outage is waited out rather
        than letting the record of that effect be lost (which would repeat the effect). Only a
        shutdown gives up, and the lease, still ours, makes the row wait for the next holder.
        """
        attempt = 0
        while True:
            try:
                self._write(op, changes, audit)
                break
            except OperationalError:
                if self._stop.is_set():
                    raise
                attempt += 1
                log.warning("database unavailable, retrying a write", extra={"operation_id": op.id})
                self._stop.wait(min(5.0, 0.25 * 2**attempt))
        if "state" in changes:
            log.info(
                "operation %s → %s",
                op.state,
                changes["state"],
                extra={"operation_id": op.id, "sync_id": op.sync_id, "execution_id": op.execution_id},
            )
        for name, value in changes.items():
            setattr(op, name, value)

    def _write(self, op: Operation, changes: dict[str, Any], audit: Event | None = None) -> None:
        self.store.save(op, self.owner, changes, audit=audit)
        target = changes.get("state")
        if target is not None and target in OUTCOMES | RELEASED:
            self.metrics.outcomes.labels(state=str(target)).inc()
            if target in OUTCOMES:
                self.metrics.confirm_to_terminal.observe((utcnow() - op.created_at).total_seconds())

    def _release(
        self,
        op_id: int,
        *,
        next_at: datetime | None = None,
        error: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        self.store.release(op_id, self.owner, next_at=next_at, error=error, changes=changes)

    def reconcile(self, op: Operation) -> None:
        """Bring one operation one pass closer to done; every effect is recorded as it lands."""
        pass_ = _Pass(self, op)
        pass_.run()
        if pass_.finished and self._finish(op, pass_.pending):
            return
        next_at = utcnow() if pass_.finished else pass_.next_at()
        self._release(op.id, next_at=next_at, changes=pass_.pending)
        if next_at < self._next_tick:
            self._wake.set()  # due before the sleeping loop would look

    def _finish(self, op: Operation, changes: dict[str, Any]) -> bool:
        return self.store.finish(op, self.owner, changes)


class _Pass:
    """One reconcile pass over one operation, and when it wants to be looked at again."""

    def __init__(self, tracker: Tracker, op: Operation) -> None:
        self.t = tracker
        self.op = op
        self.settings = tracker.settings
        self.now = utcnow()
        self.wants: list[float] = []  # seconds from now at which someone wants another pass
        self.finished = False
        self.failed = False  # a transient failure happened: back off
        self.not_before = 0.0  # seconds: a Retry-After the remote asked for
        # What the pass read that records no effect (rows, status seen): written with the
        # next save, or with the release at the end, so a quiet poll costs one write.
        self.pending: dict[str, Any] = {}

    def next_at(self) -> datetime:
        delay = min(self.wants) if self.wants else self.settings.poll_interval
        if self.failed:
            # Something failed: back off, and never sooner than a Retry-After we were given.
            delay = max(delay, backoff(self.op.attempts, base=self.settings.poll_interval, cap=MAX_BACKOFF))
            delay = max(delay, self.not_before)
        return utcnow() + timedelta(seconds=max(0.05, delay))

    def save(self, audit: Event | None = None, /, **changes: Any) -> None:
        merged = {**self.pending, **changes}
        self.pending.clear()
        self.t._save(self.op, audit, **merged)

    def note(self, **changes: Any) -> None:
        """Take in what was read without writing it yet (see `pending`)."""
        for name, value in changes.items():
            setattr(self.op, name, value)
        self.pending.update(changes)

    def transient(self, error: str, retry_after: float | None = None) -> None:
        self.failed = True
        self.save(attempts=self.op.attempts + 1, last_error=error[:500])
        if retry_after is not None:
            self.not_before = max(self.not_before, retry_after)

    # ---- the pass ----------------------------------------------------------------------

    def run(self) -> None:
        op = self.op
        if op.state == State.CONFIRMED:
            self.authorize_and_verify()
        if op.state == State.CANCELING and op.cancel_sent_at is None:
            # Polytomic takes seconds to act on a cancel: the next pass, a poll interval from
            # now, reads what it did (a read right away would only say "canceling").
            self.send_cancel()
        elif op.state == State.CANCELING:
            self.poll()
        if self.pause_due():
            self.pause()
        if (
            op.state == State.CANCELING
            and op.escalated_at is None
            and op.deadline_at
            and self.now >= op.deadline_at
        ):
            self.save(escalated_at=self.now)
        self.sync_channel_message()
        self.sync_incident()
        self.sync_requester()
        self.finished = State(op.state) in FINAL and self.delivered()
        if op.state == State.CANCELING:
            self.wants.append(self.settings.poll_interval)

    def delivered(self) -> bool:
        op = self.op
        if self.pause_due():
            return False
        if self.announced():
            if op.status_error is None and self.status_view() is not None:
                return False
            if self.incident_due() and op.incident_final_ts is None and op.incident_error is None:
                return False
            if self.incident_due() and self.notice_edit() is not None:
                return False
        return not (self.requester_due() and op.notified_state != op.state)

    # ---- Polytomic -------------------------------------------------------------------

    def polytomic_error(self, error: PolytomicError) -> None:
        log.warning(
            "polytomic error: %s",
            type(error).__name__,
            extra={"operation_id": self.op.id, "status": error.status},
        )

    def authorize_and_verify(self) -> None:
        op = self.op
        # Cancel-and-pause needs both permissions; the first one missing decides the denial.
        actions = ("cancel", "pause") if op.kind == "cancel_and_pause" else ("cancel",)
        for action in actions:
            try:
                decision = self.t.authorizer.may(op.requested_by, action, op.sync_id)
            except Throttled as throttled:
                note = notes.slack_rate_limited(throttled.method, throttled.retry_after)
                self.transient(note, throttled.retry_after)
                return
            except SlackFailure as failure:
                self.transient(notes.groups_unchecked(failure.error))
                return
            self.t.store.record(
                actor=op.requested_by,
                action=f"{action}.confirm",
                sync_id=op.sync_id,
                decision=decision,
                operation_id=op.id,
                channel_id=op.channel_id,
            )
            self.t.metrics.decision(action, decision.allowed)
            if not decision.allowed:
                self.save(state=State.DENIED, last_error=notes.denied_note(decision))
                return
        try:
            sync, status = self.t.polytomic.sync_and_status(op.sync_id)
        except (Unavailable, RateLimited) as error:
            self.polytomic_error(error)
            # The cancel goes by execution ID, so it can't hit another run: go ahead and let
            # the cancel step retry until Polytomic answers.
            if self.take_execution(last_error=notes.polytomic_unreachable(error)[:500]):
                self.clear_prompt()
            return
        except PolytomicError as error:
            self.polytomic_error(error)
            self.save(state=State.REJECTED, last_error=notes.polytomic_refusal(error))
            return
        checked = verify(status, op.execution_id)
        op.sync_name = sync.name or ""  # the note below names the sync
        if checked.binding is not Binding.CURRENT:
            self.save(
                state=State.STALE,
                sync_name=op.sync_name,
                last_error=notes.stale_note(op, checked.execution, checked.binding is Binding.SUPERSEDED),
            )
            return
        if self.take_execution(sync_name=op.sync_name, **self.execution_fields(checked.execution)):
            self.clear_prompt()

    def take_execution(self, **fields: Any) -> bool:
        """confirmed → canceling, which only one operation per execution can hold (the partial
        unique index): of two clicks on one run, the second becomes a duplicate and sends nothing."""
        try:
            self.save(state=State.CANCELING, **fields)
        except ExecutionHeld:
            winner = self.t.store.holder_of(self.op.execution_id)
            self.save(state=State.DUPLICATE, last_error=notes.already_requested_note(winner))
            return False
        return True

    def clear_prompt(self) -> None:
        if self.op.response_url:
            respond(self.op.response_url, None, delete_original=True)

    def execution_fields(self, execution: Execution | None) -> dict[str, Any]:
        if execution is None:
            return {}
        return {
            "polytomic_status": execution.status.value[:32] if execution.status.value else None,
            "rows_written": execution.counts.rows_written,
            "execution_started_at": execution.started_at or execution.created_at,
            "execution_errors": "; ".join(execution.errors)[:2000] or None,
        }

    def send_cancel(self) -> None:
        op = self.op
        key = f"op-{op.id}-cancel-{op.cancel_attempt}"
        try:
            self.t.polytomic.cancel_execution(op.sync_id, op.execution_id, idempotency_key=key)
        except (Unavailable, RateLimited) as error:
            self.polytomic_error(error)
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            self.transient(notes.polytomic_unreachable(error), retry_after)
            return
        except Conflict:
            pass  # a duplicate with the same key is in flight at Polytomic: it acts once
        except PolytomicError as error:
            self.polytomic_error(error)
            # Maybe the run ended just now and that is why Polytomic refused: look before rejecting.
            if not self.poll() or self.op.state == State.CANCELING:
                self.save(state=State.REJECTED, last_error=notes.polytomic_refusal(error))
            return
        self.t.metrics.cancels_sent.inc()
        # The status read before the cancel is stale now; the next poll says what Polytomic did.
        self.save(cancel_sent_at=utcnow(), attempts=0, last_error=None, polytomic_status=None)

    def poll(self) -> bool:
        """Read the execution; move to its outcome when terminal. False when Polytomic failed."""
        op = self.op
        try:
            execution = self.t.polytomic.get_execution(op.sync_id, op.execution_id)
        except RateLimited as error:
            self.polytomic_error(error)
            self.transient(notes.polytomic_rate_limited(error), error.retry_after)
            return False
        except PolytomicError as error:
            self.polytomic_error(error)
            self.transient(
                notes.polytomic_refusal(error)
                if not isinstance(error, Unavailable)
                else notes.polytomic_unreachable()
            )
            return False
        fields = self.execution_fields(execution)
        if op.sync_name is None:
            # The click's verification could not read the sync: Polytomic answers again, so
            # read its name now, and the next edits name it instead of showing its ID.
            name = self.read_sync_name()
            if name is not None:
                fields["sync_name"] = name
        outcome = outcome_of(execution)
        if outcome is not None:
            fields.update(state=outcome, execution_ended_at=execution.completed_at or utcnow())
        if op.attempts:
            fields.update(attempts=0, last_error=None)
        changed = {k: v for k, v in fields.items() if getattr(op, k) != v}
        if "state" in changed:
            self.save(**changed)  # an outcome: written (with its audit row) before anything shows it
        elif changed:
            self.note(**changed)
        return True

    def read_sync_name(self) -> str | None:
        """The sync's name ("" when it has none), or None when Polytomic did not answer. Only
        the messages need it, so a failure changes nothing else: the next poll asks again."""
        try:
            sync = self.t.polytomic.get_sync(self.op.sync_id)
        except (Unavailable, RateLimited) as error:
            self.polytomic_error(error)
            return None
        except PolytomicError as error:
            self.polytomic_error(error)
            return ""  # asking again would get the same answer: the messages keep the ID
        return sync.name or ""

    def pause_due(self) -> bool:
        """Cancel-and-pause: once the cancel is sent, pause the schedule (pausing alone would
        not stop the run in progress), whatever the run's outcome."""
        op = self.op
        return (
            op.kind == "cancel_and_pause"
            and op.cancel_sent_at is not None
            and op.paused_at is None
            and op.pause_error is None
            and (op.state == State.CANCELING or op.state in OUTCOMES)
        )

    def pause(self) -> None:
        op = self.op
        try:
            self.t.polytomic.set_active(op.sync_id, False, idempotency_key=f"op-{op.id}-pause")
        except (Unavailable, RateLimited) as error:
            self.polytomic_error(error)
            self.transient(notes.polytomic_unreachable(error), getattr(error, "retry_after", None))
            return
        except PolytomicError as error:
            self.polytomic_error(error)
            self.save(self.audit("pause", "failed"), pause_error=notes.polytomic_refusal(error, "pause"))
            return
        self.save(self.audit("pause", "paused"), paused_at=utcnow())

    def audit(self, action: str, outcome: str) -> Event:
        op = self.op
        return Event(
            actor=op.requested_by,
            action=action,
            sync_id=op.sync_id,
            outcome=outcome,
            operation_id=op.id,
            channel_id=op.channel_id,
        )

    # ---- Slack -------------------------------------------------------------------------

    def announced(self) -> bool:
        """The channel hears of an operation once it is past the confirm checks."""
        op = self.op
        return (
            op.state == State.CANCELING
            or op.state in OUTCOMES
            or (op.state == State.REJECTED and (op.status_ts is not None or op.status_error is not None))
        )

    def incident_due(self) -> bool:
        return bool(self.op.incident_channel) and self.announced()

    def requester_due(self) -> bool:
        """The requester hears privately when the channel can't be used, or nothing was announced."""
        op = self.op
        if op.response_url is None:
            return False
        if op.state in RELEASED and not self.announced():
            return True
        return op.status_error is not None

    @property
    def holder(self) -> str:
        """Who holds a Slack slot handed out to this operation until it comes back for it."""
        return f"op-{self.op.id}"

    def slack(self, action: Any) -> bool:
        """Run one Slack effect; False (and a retry planned) when Slack said wait or failed."""
        try:
            action()
        except Throttled as throttled:
            # Back when the gate said this operation's turn comes: a distinct time for each.
            self.wants.append(throttled.retry_after)
            return False
        except SlackFailure as failure:
            if failure.permanent:
                raise
            self.transient(notes.slack_failed(failure.method, failure.error))
            return False
        return True

    def status_view(self) -> View | None:
        """The status message to send now, or None when what Slack shows is current enough."""
        op = self.op
        if op.status_ts is None:
            return status_message(op, self.now)
        if status_message(op, self.now, progress=False).digest() != op.status_digest:
            return status_message(op, self.now)  # the state changed: show it now
        # Only progress may have changed (rows, elapsed time): once per PROGRESS_EVERY, not
        # every poll. Checked before rendering it: most polls end here.
        edited = op.status_edited_at
        if edited is not None and (self.now - edited).total_seconds() < PROGRESS_EVERY:
            self.wants.append(PROGRESS_EVERY - (self.now - edited).total_seconds())
            return None
        view = status_message(op, self.now)
        return None if view.digest() == op.status_progress_digest else view

    def sync_channel_message(self) -> None:
        op = self.op
        if not self.announced() or op.status_error is not None:
            return
        view = self.status_view()
        if view is None:
            return
        sent = {
            "status_digest": status_message(op, self.now, progress=False).digest(),
            "status_progress_digest": view.digest(),
            "status_edited_at": utcnow(),
        }

        def post() -> None:
            try:
                ts = self.t.slack.post_message(op.channel_id, view, holder=self.holder)
            except SlackFailure as failure:
                if not failure.permanent:
                    raise
                self.save(status_error=failure.error)
                return
            self.save(status_ts=ts, **sent)

        def edit() -> None:
            assert op.status_ts is not None
            try:
                self.t.slack.update_message(op.channel_id, op.status_ts, view, holder=self.holder)
            except SlackFailure as failure:
                if failure.error == "message_not_found":
                    # Someone deleted it: post a fresh one and keep going.
                    self.save(status_ts=None, status_digest=None)
                    post()
                    return
                if not failure.permanent:
                    raise
                self.save(status_error=failure.error)
                return
            self.save(**sent)

        self.slack(post if op.status_ts is None else edit)

    def sync_incident(self) -> None:
        op = self.op
        if not self.incident_due() or op.incident_error is not None:
            return
        channel = op.incident_channel
        assert channel is not None

        def post(view: View, field: str, thread_ts: str | None, **also: Any) -> None:
            try:
                ts = self.t.slack.post_message(channel, view, thread_ts=thread_ts, holder=self.holder)
            except SlackFailure as failure:
                if not failure.permanent:
                    raise
                self.save(incident_error=failure.error)
                return
            self.save(**{field: ts}, **also)

        def edit(view: View) -> None:
            assert op.incident_ts is not None
            try:
                self.t.slack.update_message(channel, op.incident_ts, view, holder=self.holder)
            except SlackFailure as failure:
                if failure.permanent:
                    self.save(incident_error=failure.error)
                    return
                if failure.error not in UNEDITABLE:
                    raise
                # Deleted, or too old to edit: it stays as posted (naming the sync's ID).
            self.save(incident_digest=view.digest())

        if op.incident_ts is None:
            notice = incident_notice(op)
            if not self.slack(lambda: post(notice, "incident_ts", None, incident_digest=notice.digest())):
                return
        elif (changed := self.notice_edit()) is not None:
            # Only what the notice says changed (the sync's name, read late): the outcome
            # reply below does not wait for this edit.
            self.slack(lambda: edit(changed))
        if op.incident_ts is None or op.incident_error is not None:
            return
        if op.state == State.CANCELING and op.escalated_at is not None and op.incident_escalation_ts is None:
            view = incident_escalation(op, self.now)
            self.slack(lambda: post(view, "incident_escalation_ts", op.incident_ts))
        if op.state in FINAL and op.incident_final_ts is None:
            self.slack(
                lambda: post(incident_outcome(op, self.now), "incident_final_ts", op.incident_ts)
            )

    def notice_edit(self) -> View | None:
        """The incident notice to edit now, or None when Slack shows it as it is (or it is gone)."""
        op = self.op
        if op.incident_ts is None or op.incident_error is not None:
            return None
        view = incident_notice(op)
        return None if view.digest() == op.incident_digest else view

    def sync_requester(self) -> None:
        op = self.op
        if not self.requester_due() or op.notified_state == op.state or op.response_url is None:
            return
        if op.state in RELEASED and not self.announced():
            view = released(op)
            replace = op.state == State.STALE
        else:
            view = requester_note(op, self.now)
            replace = False
        respond(op.response_url, view, replace_original=replace)
        # response_url allows 5 uses in 30 min: whether or not it took, don't try again.
        self.save(notified_state=op.state)
