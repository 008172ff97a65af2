"""Processing one claimed operation: run its pass, write what it decided, give the row back.

This is kopf's `reactor/processing` beside the loop's `reactor/queueing` (bot.tracker.loop):
the loop only claims rows and hands them out; here one row is taken through one pass
(bot.tracker.steps) and then finished or released, due again when the pass wants. Every write
goes through the operations store (bot.db.operations), conditional on this owner's lease.
`Processed` says what happened, for the loop (when to wake) and for `Tracker.run_due`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from bot.clock import Clock
from bot.config import Settings
from bot.db.alerts import AlertStore
from bot.db.audit import Event
from bot.db.models import Operation
from bot.db.operations import AFTER_A_FAILED_STEP, LeaseLost, OperationStore
from bot.db.stops import StopStore
from bot.metrics import Metrics
from bot.names import SyncNames
from bot.operations import OUTCOMES, RELEASED, backoff, stuck
from bot.permissions import Authorizer
from bot.polytomic import PolytomicClient
from bot.slack import SlackGateway
from bot.tracker.starts import StartPass
from bot.tracker.steps import MAX_BACKOFF, Pass
from bot.tracker.stop_grants import StopGrants
from bot.views import notes

log = logging.getLogger("bot.tracker")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Processed:
    """What one pass over one operation did."""

    operation_id: int
    state: str  # the row's state after the pass
    finished: bool  # every effect of its final state is delivered: the row is done
    next_at: datetime | None  # due again then; None when finished or when the pass was cut short
    problem: str | None = None  # why it was cut short: "lease lost", or the failed step's error


class Reconciler:
    """Takes one claimed operation through a pass, as `owner`, with these remotes."""

    def __init__(
        self,
        store: OperationStore,
        polytomic: PolytomicClient,
        slack: SlackGateway,
        authorizer: Authorizer,
        settings: Settings,
        *,
        owner: str,
        clock: Clock,
        metrics: Metrics,
        stopping: threading.Event,
        names: SyncNames | None = None,
        on_change: Callable[[Sequence[str]], None] | None = None,
        stops: StopStore | None = None,
    ) -> None:
        self.store = store
        self.polytomic = polytomic
        self.slack = slack
        self.authorizer = authorizer
        self.settings = settings
        self.owner = owner
        self.clock = clock
        self.metrics = metrics
        self.stopping = stopping  # set when the process drains: stop waiting out the database
        self.names = names  # a short cache of sync names (bot/names.py)
        # Told who started an operation whose state (or status message) a pass changed (their
        # open Home tab is republished: bot/answers/home_loop.py); after the pass, once its
        # effects are recorded.
        self.on_change = on_change
        self.stops = stops  # the stops' store: whether a stop's rest was aborted
        self.stop_grants = StopGrants(authorizer, clock)  # a stop's operations: one grants read
        # The alerts' store, for a start that an alert's Restart made: its alert is touched when
        # the start's state changes, so the alert shows it (set by bot.services).
        self.alerts: AlertStore | None = None

    def process(self, op: Operation) -> Processed:
        before, posted = op.state, op.status_ts is not None
        try:
            return self.reconcile(op)
        except LeaseLost:
            log.warning("lease lost", extra={"operation_id": op.id})
            return Processed(op.id, op.state, finished=False, next_at=None, problem="lease lost")
        except Exception as error:
            log.exception("operation step failed", extra={"operation_id": op.id})
            return self.failed_unexpectedly(op, notes.step_failed(error))
        finally:
            changed = op.state != before or (not posted and op.status_ts is not None)
            # A stop's operations: its pass tells Home as its summary changes (stop_pass.py).
            if changed and self.on_change is not None and op.stop_id is None:
                try:
                    self.on_change([op.requested_by])
                except Exception:  # a Home tab a little late is no reason to fail the pass
                    log.exception("could not tell the Home tab of a change", extra={"operation_id": op.id})

    def failed_unexpectedly(self, op: Operation, problem: str) -> Processed:
        """A step raised what no outcome names (a write the database refused, a bug): count
        it like any failure and back off; once it keeps happening, show it (never retried in
        silence). The row as this pass last wrote it is what the messages render."""
        op.attempts, op.last_error = op.attempts + 1, problem
        if stuck(op) and op.kind != "start":
            try:
                Pass(self, op).tell_trouble()
            except LeaseLost:
                return Processed(op.id, op.state, finished=False, next_at=None, problem="lease lost")
        delay = backoff(
            op.attempts, base=max(self.settings.poll_interval, AFTER_A_FAILED_STEP), cap=MAX_BACKOFF
        )
        next_at = self.clock.now() + timedelta(seconds=delay)
        self.store.release(
            op.id, self.owner, next_at=next_at, changes={"attempts": op.attempts, "last_error": problem}
        )
        return Processed(op.id, op.state, finished=False, next_at=None, problem=problem)

    def reconcile(self, op: Operation) -> Processed:
        """Bring one operation one pass closer to done; every effect is recorded as it lands
        (with the pass's next write, before any other remote call: see Pass.unsaved)."""
        pass_ = StartPass(self, op) if op.kind == "start" else Pass(self, op)
        try:
            pass_.run()
        except LeaseLost:
            raise
        except Exception:
            pass_.flush()  # what landed before the failure is on the row before anything else
            raise
        changes, effects = pass_.closing()
        if pass_.finished and self.durably(op, effects, lambda: self.store.finish(op, self.owner, changes)):
            return Processed(op.id, op.state, finished=True, next_at=None)
        # Finished, but a click changed the row during the pass: another pass at once.
        next_at = self.clock.now() if pass_.finished else pass_.next_at()
        due = self.durably(
            op,
            effects,
            lambda: self.store.release(
                op.id, self.owner, next_at=next_at, changes=changes, hinted_at=pass_.hinted_at
            ),
        )
        # An event during the pass keeps the row due now: the loop is told so (Processed).
        return Processed(op.id, op.state, finished=False, next_at=min(next_at, due) if due else next_at)

    def durably(self, op: Operation, effects: bool, write: Callable[[], _T]) -> _T:
        """`write`; when it records an effect that has happened, a database outage is waited
        out rather than letting the record be lost (which would repeat the effect). Only a
        shutdown gives up, and the lease, still ours, makes the row wait for the next holder."""
        attempt = 0
        while True:
            try:
                return write()
            except OperationalError:
                if not effects or self.stopping.is_set():
                    raise
                attempt += 1
                log.warning("database unavailable, retrying a write", extra={"operation_id": op.id})
                self.stopping.wait(min(5.0, 0.25 * 2**attempt))

    def save(self, op: Operation, changes: dict[str, Any], audits: Sequence[Event] = ()) -> None:
        """Write `changes` (and `audits`) only while we still hold the lease, and renew it;
        waited out like every write that records an effect (`durably`)."""
        self.durably(op, True, lambda: self.store.save(op, self.owner, changes, audits=audits))
        target = changes.get("state")
        if target is not None:
            log.info(
                "operation %s → %s",
                op.state,
                target,
                extra={"operation_id": op.id, "sync_id": op.sync_id, "execution_id": op.execution_id},
            )
            if target in OUTCOMES | RELEASED:
                self.metrics.outcomes.labels(state=str(target)).inc()
                if target in OUTCOMES:
                    elapsed = (self.clock.now() - op.created_at).total_seconds()
                    self.metrics.confirm_to_terminal.observe(elapsed)
        for name, value in changes.items():
            setattr(op, name, value)
