"""One reconcile pass over a start (an operation of kind "start"): authorize the clicker, take
the sync's live-start slot, POST the run, follow it to its end, and keep its status message
(and the requester's note) in line. The same pass machinery as a cancellation's
(bot.tracker.steps.Pass: outcomes, saves under the lease, the release), with a start's own
transitions (bot.operations.START_TRANSITIONS).

The POST carries the row's `start_key` as its Idempotency-Key, so a retry after a lost answer,
on this process or the next holder of the row, starts nothing twice. Polytomic's 409 is an
answer: the sync's status tells "a run is already going" (already_running) from "a request with
this key is still in flight" (try again shortly, with the same key).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.db.audit import Event
from bot.db.operations import ExecutionHeld
from bot.db.starts import post_key
from bot.operations import START_FINAL, State, event_outcome, execution_fields
from bot.polytomic import Conflict, PolytomicError
from bot.slack import SlackError, respond
from bot.tracker import posts
from bot.tracker.outcome import DONE, Doing, Outcome, again, from_error
from bot.tracker.steps import Pass
from bot.views import notes
from bot.views.starts import start_not_made, start_status

log = logging.getLogger("bot.tracker")

IN_FLIGHT_AGAIN = 2.0  # seconds before the same key is sent again after a 409 with no run going
ANNOUNCED = frozenset({State.STARTING, State.RUNNING, State.ALREADY_RUNNING, State.REJECTED}) | {
    State.COMPLETED,
    State.FAILED,
    State.CANCELED,
    State.INTERRUPTED,
}


class StartPass(Pass):
    def run(self) -> None:
        op = self.op
        before = op.state
        if op.state == State.CONFIRMED:
            self.take(self.authorize())
        if op.state == State.STARTING:
            self.take(self.send_start())
        if op.state == State.RUNNING and event_outcome(op.event_type) is not None:
            self.take(self.take_event())
        elif op.state == State.RUNNING:
            self.take(self.poll())
        self.take(self.start_message())
        self.take(self.requester())
        if op.state != before and op.alert_id is not None and self.r.alerts is not None:
            self.r.alerts.touch(op.alert_id)  # the alert shows the restart's state (and Cancel)
        self.finished = State(op.state) in START_FINAL and self.delivered_start()
        if op.state in (State.RUNNING, State.STARTING):
            self.wants.append(self.settings.poll_interval)

    def authorize(self) -> Outcome:
        op = self.op
        try:
            decision = self.r.authorizer.may(op.requested_by, "start", op.sync_id)
        except SlackError as error:
            return from_error(error, Doing.GROUPS)
        # Written with the state it leads to (every way on from here saves one).
        self.audits.append(
            Event(
                actor=op.requested_by,
                action="start.confirm",
                sync_id=op.sync_id,
                decision=decision,
                operation_id=op.id,
                channel_id=op.channel_id,
            )
        )
        self.r.metrics.decision("start", decision.allowed)
        if not decision.allowed:
            self.save(state=State.DENIED, last_error=notes.denied_note(decision))
            return DONE
        fields: dict[str, Any] = {}
        if op.sync_name is None:
            name = self.read_sync_name()
            if name is not None:
                fields["sync_name"] = name
        try:
            self.save(state=State.STARTING, **fields)
        except ExecutionHeld:
            self.save(state=State.DUPLICATE)
            return DONE
        if op.response_url and op.alert_id is None:
            self.flush()
            respond(op.response_url, None, delete_original=True)  # the prompt has done its work
        return DONE

    def send_start(self) -> Outcome:
        op = self.op
        assert op.start_key is not None
        self.flush()
        try:
            execution = self.r.polytomic.start_sync(op.sync_id, idempotency_key=post_key(op.start_key))
        except Conflict:
            return self.read_conflict()
        except PolytomicError as error:
            outcome = self.failure(error, Doing.CHECK)
            if outcome.final:
                self.save(state=State.REJECTED, last_error=notes.polytomic_refusal(error, "start"))
                return DONE
            return outcome
        if not execution.id:
            return again(self.settings.poll_interval)  # an answer without the run: ask again
        self.save(
            state=State.RUNNING,
            execution_id=execution.id,
            attempts=0,
            last_error=None,
            **execution_fields(execution),
        )
        return DONE

    def read_conflict(self) -> Outcome:
        """A 409: a run already going, or this key still in flight at Polytomic."""
        self.flush()
        try:
            status = self.r.polytomic.sync_status(self.op.sync_id)
        except PolytomicError as error:
            return self.failure(error, Doing.CHECK)
        current = status.current_execution
        if current is not None and current.status.is_active:
            self.save(state=State.ALREADY_RUNNING, execution_id=current.id, **execution_fields(current))
            return DONE
        return again(IN_FLIGHT_AGAIN)

    def start_message(self) -> Outcome:
        op = self.op
        if State(op.state) not in ANNOUNCED or op.status_error is not None:
            return DONE
        view = start_status(op, self.now)
        # Its ts and digest ride on the pass's next write (flushed before every remote call).
        return self.keep(posts.STATUS, view, op.channel_id, thread_ts=op.thread_ts)

    def requester(self) -> Outcome:
        """Told privately, once: denied or a duplicate (the channel hears of neither), or the
        start's status message could not be posted (the channel can't be used)."""
        op = self.op
        if op.response_url is None or op.notified_state == op.state:
            return DONE
        self.flush()
        if op.state in (State.DENIED, State.DUPLICATE):
            respond(op.response_url, start_not_made(op), replace_original=op.alert_id is None)
        elif op.status_error is not None and State(op.state) in START_FINAL:
            respond(op.response_url, start_status(op, self.now))
        else:
            return DONE
        # response_url allows 5 uses in 30 min: whether or not it took, don't try again.
        self.save(notified_state=op.state)
        return DONE

    def delivered_start(self) -> bool:
        op = self.op
        if State(op.state) in ANNOUNCED and op.status_error is None:
            view = start_status(op, self.now)
            if op.status_ts is None or view.digest() != op.status_progress_digest:
                return False
        told = op.response_url is None or op.notified_state == op.state
        if op.state in (State.DENIED, State.DUPLICATE):
            return told
        return op.status_error is None or told
