"""One reconcile pass over one operation: its steps, in order, and when to look again.

Each step does one thing (authorize and verify the click, send the cancel, poll, pause, escalate,
keep each Slack message in line, tell the requester) and returns an immutable `Outcome`
(bot.tracker.outcome), which the pass takes in as it comes: a failure is counted on the row at
once (attempts, last_error), a wish to come back is kept for `next_at`. Remote errors become
outcomes in one place (`outcome.from_error`); the Slack messages are kept in line by
bot.tracker.posts. What the pass reads that records no effect (rows, the status seen) rides on
the next write, or on the release at the end (`pending`), so a quiet poll costs one write.

The pass reads the time once (`now`, from the injected clock) for what it renders and decides;
the time an effect landed is read when it lands.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.db.audit import Event
from bot.db.models import Operation
from bot.db.operations import ExecutionHeld, LeaseLost, StopAborted
from bot.operations import (
    FINAL,
    Binding,
    State,
    announced,
    backoff,
    event_fields,
    event_outcome,
    execution_fields,
    in_stop,
    incident_due,
    outcome_of,
    pause_due,
    requester_due,
    verify,
)
from bot.polytomic import Conflict, PolytomicError, SyncStatus
from bot.slack import SlackError, respond
from bot.tracker import posts
from bot.tracker.messages import SlackSteps
from bot.tracker.outcome import DONE, Doing, Outcome, from_error
from bot.views import notes
from bot.views.blocks import View
from bot.views.incident import incident_notice

if TYPE_CHECKING:
    from bot.tracker.reconcile import Reconciler

log = logging.getLogger("bot.tracker")

MAX_BACKOFF = 300.0  # seconds between tries when something keeps failing


class Pass(SlackSteps):
    """One reconcile pass over one operation, and when it wants to be looked at again."""

    def __init__(self, reconciler: Reconciler, op: Operation) -> None:
        self.r = reconciler
        self.op = op
        self.settings = reconciler.settings
        self.now = reconciler.clock.now()
        self.wants: list[float] = []  # seconds from now at which a step wants another pass
        self.finished = False
        self.failed = False  # a step failed in a way that may pass: back off
        self.not_before = 0.0  # seconds: a Retry-After the remote asked for
        self.start_writes()
        self.hinted_at = op.hinted_at  # as claimed: the release never postpones a later hint
        self.by_event = False  # this pass took the run's end from Polytomic's event

    @property
    def execution(self) -> str:
        """The run this operation is about: a cancel has one from its click, a start once
        Polytomic answered (only then does a start's pass poll it)."""
        assert self.op.execution_id is not None, f"operation {self.op.id} has no execution yet"
        return self.op.execution_id

    # ---- taking outcomes in ------------------------------------------------------------

    def take(self, outcome: Outcome) -> Outcome:
        """Take in what a step came to: a failure is counted and kept on the row at once."""
        if outcome.failed:
            assert outcome.error is not None
            self.failed = True
            self.save(attempts=self.op.attempts + 1, last_error=outcome.error[:500])
            if outcome.delay is not None:
                self.not_before = max(self.not_before, outcome.delay)
        elif outcome.delay is not None:
            self.wants.append(outcome.delay)
        return outcome

    def failure(self, error: PolytomicError, doing: Doing) -> Outcome:
        log.warning(
            "polytomic error: %s",
            type(error).__name__,
            extra={"operation_id": self.op.id, "status": error.status},
        )
        return from_error(error, doing)

    def next_at(self) -> datetime:
        delay = min(self.wants) if self.wants else self.settings.poll_interval
        if self.failed:
            # Something failed: back off, and never sooner than a Retry-After we were given.
            delay = max(delay, backoff(self.op.attempts, base=self.settings.poll_interval, cap=MAX_BACKOFF))
            delay = max(delay, self.not_before)
        return self.r.clock.now() + timedelta(seconds=max(0.05, delay))

    # ---- the pass ----------------------------------------------------------------------

    def run(self) -> None:
        op = self.op
        if op.state == State.CONFIRMED and in_stop(op) and self.stop_aborted():
            self.save(state=State.DENIED, last_error=notes.ABORTED)
        if op.state == State.CONFIRMED:
            self.take(self.authorize_and_verify())
        if op.state == State.CANCELING and op.cancel_sent_at is None and pause_due(op):
            # Pause first, then cancel: no scheduled run can start in between.
            self.take(self.pause())
        if op.state == State.CANCELING and event_outcome(op.event_type) is not None:
            self.take(self.take_event())
        elif op.state == State.CANCELING and op.cancel_sent_at is None and pause_due(op):
            pass  # the pause did not land yet (it failed and is retried): no cancel before it
        elif op.state == State.CANCELING and op.cancel_sent_at is None:
            # Polytomic takes seconds to act on a cancel: the next pass, a poll interval from
            # now, reads what it did (a read right away would only say "canceling").
            self.take(self.send_cancel())
        elif op.state == State.CANCELING:
            self.take(self.poll())
        if pause_due(op) and not self.failed:
            self.take(self.pause())
        if in_stop(op):
            # The stop's summary speaks for its syncs (bot/tracker/stop_pass.py): no message here.
            self.finished = State(op.state) in FINAL and not pause_due(op)
            if op.state == State.CANCELING:
                self.wants.append(self.settings.poll_interval)
            return
        self.take(self.escalate())
        self.take(self.status_message())
        self.take(self.incident_notice())
        self.take(self.incident_escalation())
        self.take(self.incident_outcome())
        self.take(self.requester_note())
        self.finished = State(op.state) in FINAL and self.delivered()
        if op.state == State.CANCELING:
            self.wants.append(self.settings.poll_interval)

    def tell_trouble(self) -> None:
        """After a step failed unexpectedly (bot.tracker.reconcile): show what keeps failing in
        the status message and tell the requester, as far as that still works."""
        for step in (self.status_message, self.requester_note):
            try:
                step()
            except LeaseLost:
                raise
            except Exception:
                log.exception("could not show a failing step", extra={"operation_id": self.op.id})

    def delivered(self) -> bool:
        op = self.op
        if pause_due(op):
            return False
        if announced(op):
            if op.status_error is None:
                view = self.status_view()
                if isinstance(view, View):
                    return False
                self.take(view)  # a progress refresh still wants its pass
            if incident_due(op) and op.incident_final_ts is None and op.incident_error is None:
                return False
            if incident_due(op) and posts.edit_due(op, posts.INCIDENT_NOTICE, incident_notice(op)):
                return False
        return not (requester_due(op) and op.notified_state != op.state)

    # ---- Polytomic -------------------------------------------------------------------

    def authorize_and_verify(self) -> Outcome:
        op = self.op
        # Cancel-and-pause needs both permissions; the first one missing decides the denial.
        actions = ("cancel", "pause") if op.kind == "cancel_and_pause" else ("cancel",)
        for action in actions:
            try:
                decision = self.r.stop_grants.may(op, action)  # a single cancel: authorizer.may
            except SlackError as error:
                return from_error(error, Doing.GROUPS)
            # Written with the state it leads to (every way on from here saves one).
            self.audits.append(
                Event(
                    actor=op.requested_by,
                    action=f"{action}.confirm",
                    sync_id=op.sync_id,
                    decision=decision,
                    operation_id=op.id,
                    channel_id=op.channel_id,
                )
            )
            self.r.metrics.decision(action, decision.allowed)
            if not decision.allowed:
                self.save(state=State.DENIED, last_error=notes.denied_note(decision))
                return DONE
        if event_outcome(op.event_type) is not None:
            # Polytomic said the run ended: it did so before any cancel of ours (stale).
            op.sync_name = op.sync_name or op.event_sync_name
            self.save(state=State.STALE, sync_name=op.sync_name, last_error=notes.stale_note(op, None, False))
            return DONE
        try:
            name, status = self.name_and_status()
        except PolytomicError as error:
            checked = self.failure(error, Doing.CHECK)
            if checked.final:
                self.save(state=State.REJECTED, last_error=checked.error)
            # The cancel goes by execution ID, so it can't hit another run: go ahead and let
            # the cancel step retry until Polytomic answers.
            elif self.take_execution(last_error=(checked.error or "")[:500]):
                self.clear_prompt()
            return DONE
        checked_run = verify(status, self.execution)
        op.sync_name = name  # the note below names the sync
        if checked_run.binding is not Binding.CURRENT:
            superseded = checked_run.binding is Binding.SUPERSEDED
            self.save(
                state=State.STALE,
                sync_name=op.sync_name,
                last_error=notes.stale_note(op, checked_run.execution, superseded),
            )
            return DONE
        if self.take_execution(sync_name=op.sync_name, **execution_fields(checked_run.execution)):
            self.clear_prompt()
        return DONE

    def name_and_status(self) -> tuple[str, SyncStatus]:
        """The sync's name and status: the name from the short cache when it is there (an
        event or the command's answer just told it), so the check is one request, not two."""
        names = self.r.names
        sync_id = self.op.sync_id
        self.flush()
        cached = names.get(sync_id) if names is not None else None
        if cached is None and in_stop(self.op) and self.op.sync_name is not None:
            cached = self.op.sync_name  # a stop's prompt read it a moment ago
        if cached is not None:
            return cached, self.r.polytomic.sync_status(sync_id)
        sync, status = self.r.polytomic.sync_and_status(sync_id)
        if names is not None:
            names.put(sync_id, sync.name or "")
        return sync.name or "", status

    def take_execution(self, **fields: Any) -> bool:
        """confirmed → canceling, which only one operation per execution can hold (the partial
        unique index): of two clicks on one run, the second becomes a duplicate and sends nothing.
        A stop's sync takes its run only while the stop is not aborted, which the same write
        decides (bot/db/operation_statements.py): an abort at any moment before it holds."""
        try:
            self.save(state=State.CANCELING, **fields)
        except ExecutionHeld:
            winner = self.r.store.holder_of(self.execution)
            self.save(state=State.DUPLICATE, last_error=notes.already_requested_note(winner))
            return False
        except StopAborted:
            self.save(state=State.DENIED, last_error=notes.ABORTED)
            return False
        return True

    def clear_prompt(self) -> None:
        if self.op.response_url:
            self.flush()
            respond(self.op.response_url, None, delete_original=True)

    def send_cancel(self) -> Outcome:
        op = self.op
        key = f"op-{op.id}-cancel-{op.cancel_attempt}"
        self.flush()
        try:
            self.r.polytomic.cancel_execution(op.sync_id, self.execution, idempotency_key=key)
        except Conflict:
            pass  # a duplicate with the same key is in flight at Polytomic: it acts once
        except PolytomicError as error:
            outcome = self.failure(error, Doing.CANCEL)
            if not outcome.final:
                return outcome
            # Maybe the run ended just now and that is why Polytomic refused: look before rejecting.
            if self.take(self.poll()).failed or self.op.state == State.CANCELING:
                self.save(state=State.REJECTED, last_error=outcome.error)
            return DONE
        self.r.metrics.cancels_sent.inc()
        # The status read before the cancel is stale now; the next poll says what Polytomic did.
        # An effect that landed: on the row before the next remote call, or with the pass's
        # release (a stop's sync makes none after its cancel: one write fewer). Lost with a
        # crash in between, the next pass sends the cancel again with the same Idempotency-Key,
        # which Polytomic answers from the first: it still acts once.
        self.record(cancel_sent_at=self.r.clock.now(), attempts=0, last_error=None, polytomic_status=None)
        return DONE

    def poll(self) -> Outcome:
        """Read the execution; move to its outcome when terminal."""
        op = self.op
        self.flush()
        try:
            execution = self.r.polytomic.get_execution(op.sync_id, self.execution)
        except PolytomicError as error:
            return self.failure(error, Doing.POLL)
        fields = execution_fields(execution)
        if op.sync_name is None:
            # The click's verification could not read the sync: Polytomic answers again, so
            # read its name now, and the next edits name it instead of showing its ID.
            name = self.read_sync_name()
            if name is not None:
                fields["sync_name"] = name
        ended = outcome_of(execution)
        if ended is not None:
            fields.update(state=ended, execution_ended_at=execution.completed_at or self.r.clock.now())
        if op.attempts:
            fields.update(attempts=0, last_error=None)
        changed = {k: v for k, v in fields.items() if getattr(op, k) != v}
        if "state" in changed:
            self.save(**changed)  # an outcome: written (with its audit row) before anything shows it
        elif changed:
            self.note(**changed)
        return DONE

    def take_event(self) -> Outcome:
        """The run's end as Polytomic's signed event said it (kept on the row by
        bot/db/events.py), with the event's rows, error and sync name: no status poll."""
        self.by_event = True
        self.save(**event_fields(self.op, self.r.clock.now()))
        return DONE

    def read_sync_name(self) -> str | None:
        """The sync's name ("" when it has none), or None when Polytomic did not answer. Only
        the messages need it, so a failure changes nothing else: the next poll asks again."""
        self.flush()
        try:
            sync = self.r.polytomic.get_sync(self.op.sync_id)
        except PolytomicError as error:
            # Refused: asking again would get the same answer, and the messages keep the ID.
            return "" if self.failure(error, Doing.NAME).final else None
        return sync.name or ""

    def stop_aborted(self) -> bool:
        stops = self.r.stops
        return stops is not None and self.op.stop_id is not None and stops.aborted(self.op.stop_id)

    def pause(self) -> Outcome:
        """Read whether the schedule is active, just before pausing it: one already paused is
        left alone (and never resumed by the bot)."""
        op = self.op
        if op.was_active is None:
            self.flush()
            try:
                active = self.r.polytomic.get_sync(op.sync_id).active is not False
            except PolytomicError as error:
                outcome = self.failure(error, Doing.PAUSE)
                if not outcome.final:
                    return outcome
                self.save(self.audit("pause", "failed"), pause_error=outcome.error)
                return DONE
            if not active:
                self.save(self.audit("pause", "already paused"), was_active=False)
                return DONE
            self.note(was_active=True)
        self.flush()
        try:
            self.r.polytomic.set_active(op.sync_id, False, idempotency_key=f"op-{op.id}-pause")
        except PolytomicError as error:
            outcome = self.failure(error, Doing.PAUSE)
            if not outcome.final:
                return outcome
            self.save(self.audit("pause", "failed"), pause_error=outcome.error)
            return DONE
        self.save(self.audit("pause", "paused"), paused_at=self.r.clock.now())
        return DONE

    def audit(self, action: str, outcome: str) -> Event:
        """An audit row about this operation, written with the change it records."""
        op = self.op
        return Event(
            actor=op.requested_by,
            action=action,
            sync_id=op.sync_id,
            outcome=outcome,
            operation_id=op.id,
            channel_id=op.channel_id,
        )

    def escalate(self) -> Outcome:
        """Still canceling at the deadline: the messages say so and offer to try again."""
        op = self.op
        if (
            op.state == State.CANCELING
            and op.escalated_at is None
            and op.deadline_at
            and self.now >= op.deadline_at
        ):
            self.save(escalated_at=self.now)
        return DONE
