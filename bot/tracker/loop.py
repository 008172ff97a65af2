"""The tracker's loop: threads, capacity, nudges and the drain. No SQL and no remote calls here.

The loop claims due rows (through the operations store) and hands each to a worker thread,
which takes it through one pass (bot.tracker.reconcile). It keeps nothing in memory that the
row does not hold, besides the set of rows in flight (whose leases it renews), so a restarted
or different process carries on where this one stopped. `run_due` does the same work one pass
at a time in the calling thread, without the threads: for in-process tests and the demo.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.db.models import Operation, Stop
from bot.db.operations import OperationStore
from bot.db.stops import StopStore
from bot.metrics import Metrics
from bot.names import SyncNames
from bot.permissions import Authorizer
from bot.polytomic import PolytomicClient
from bot.slack import SlackGateway
from bot.tracker.reconcile import Processed, Reconciler
from bot.tracker.stop_pass import StopProcessed, StopReconciler

log = logging.getLogger("bot.tracker")

QUEUED_PER_WORKER = 4  # claimed rows waiting for a worker, at most (their leases are renewed)
# Seconds a pass may run before its lease stops being renewed, so that another process may take
# the row over once the lease expires. Every remote call ends within its deadline (Polytomic's
# ~10 s an attempt, Slack's 10 s) and every statement within the database's timeouts, so a pass
# makes a few such calls and ends far sooner; this only bounds what nothing else foresaw.
PASS_LIMIT = 120.0
STOP_LOOK = 0.1  # seconds between looks for a due stop (the loop ticks far more often)
# A tick's claim reads when the next unleased stop falls due (bot/db/operations.py), and the
# loop looks for a stop only when that read says one is due; at least this often it looks
# anyway, for what that read cannot see: a stop whose holder's lease expired (another process).
STOP_RECHECK = 1.0
# Once woken (a click, an event, a pass that left its row due), the loop waits this long for
# the wakes that follow, so that a stream of them is one claim for several rows, not one each.
WAKE_SETTLE = 0.03


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
        clock: Clock = SYSTEM_CLOCK,
        owner: str | None = None,
        workers: int = 4,
        metrics: Metrics | None = None,
        names: SyncNames | None = None,
        on_change: Callable[[Sequence[str]], None] | None = None,
        stops: StopStore | None = None,
    ) -> None:
        self.store = store
        self.stops = stops
        self.settings = settings
        self.clock = clock
        self.owner = owner or new_owner_id()
        self.workers = workers
        self.capacity = workers * QUEUED_PER_WORKER
        self.metrics = metrics or Metrics()
        # Wake often enough to see new work, renew leases and notice a stop.
        self.idle_wait = min(1.0, settings.poll_interval, settings.lease_ttl / 3)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.reconciler = Reconciler(
            store,
            polytomic,
            slack,
            authorizer,
            settings,
            owner=self.owner,
            clock=clock,
            metrics=self.metrics,
            stopping=self._stop,
            names=names,
            on_change=on_change,
            stops=stops,
        )
        self.stop_reconciler = (
            None
            if stops is None
            else StopReconciler(
                stops,
                store,
                polytomic,
                slack,
                authorizer,
                settings,
                owner=self.owner,
                clock=clock,
                on_change=on_change,
            )
        )
        # Other row loops run one look each by `run_due` too (the alerts' worker), so that a
        # caller stepping the tracker by hand steps them as well; their own threads run them
        # otherwise.
        self.companions: list[Callable[[], object]] = []
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tracker")
        # Stops (bot/tracker/stop_pass.py) are passed on a thread of their own, so their summary
        # never waits behind the cancels their operations queue up.
        self._stop_pool = ThreadPoolExecutor(1, thread_name_prefix="tracker-stop")
        self._stops_inflight: set[int] = set()
        self._next_stop_look = 0.0  # time.monotonic() before which no stop is claimed
        self._next_stop_recheck = 0.0  # ... before which one is claimed only if the read says due
        self._inflight: set[int] = set()
        self._passes: dict[int, float] = {}  # row -> when its pass began (time.monotonic)
        self._inflight_changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self.last_loop_at: datetime | None = None
        self._last_renewal: datetime | None = None
        self._starved = False  # the loop stopped claiming because every slot was taken
        self._next_tick = clock.now()  # when the sleeping loop plans to look again
        self._next_due: datetime | None = None  # the earliest unleased row's due time, as last claimed
        self._next_stop_due: datetime | None = None  # the earliest unleased stop's, read with it

    # ---- one pass at a time, in the calling thread -------------------------------------

    def run_due(self, limit: int | None = None) -> list[Processed]:
        """Claim what is due now (by the clock), at most `limit` rows (default: the loop's
        capacity), and take each through one pass here, in order; returns what each pass did.
        Nothing is started: no thread, no lease renewal (a pass is shorter than a lease). Not
        for a tracker whose loop runs (`start`): the two would share one owner's leases."""
        done = [self.reconciler.process(op) for op in self.claim(limit or self.capacity)]
        for companion in self.companions:
            companion()
        self.run_due_stops()
        return done

    def run_due_stops(self) -> list[StopProcessed]:
        """Take every due stop through one pass here (see run_due)."""
        if self.stops is None or self.stop_reconciler is None:
            return []
        return [self.stop_reconciler.process(stop) for stop in self.stops.claim(self.owner, 4)]

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
                self._next_tick = self.clock.now() + timedelta(seconds=wait)
                if self._wake.wait(wait):
                    self._stop.wait(WAKE_SETTLE)
            self._wake.clear()
        log.info("tracker stopped", extra={"owner": self.owner})

    def tick(self) -> float:
        """Claim due operations and hand them to the workers; returns how long to wait before
        the next tick (until the next row falls due, at most idle_wait)."""
        now = self.clock.now()
        self.last_loop_at = now
        self.renew_leases(now)
        with self._inflight_changed:
            free = self.capacity - len(self._inflight)
        if free < self.workers:
            # Stops on their own thread: a summary never waits for the cancels to drain. (No
            # claim below, so no read of when one is due: looked for every STOP_LOOK.)
            self.claim_stops(now, read=False)
            # Claim in batches (a claim costs about the same for one row or many): a worker
            # wakes the loop once a batch's worth of slots is free.
            with self._inflight_changed:
                self._starved = True
            return self.idle_wait
        claimed = self.claim(free)
        # Stops before the claimed rows are handed out, from what that claim just read.
        self.claim_stops(now)
        for op in claimed:
            with self._inflight_changed:
                stuck = op.id in self._inflight  # our pass on it ran past PASS_LIMIT
                if not stuck:
                    self._inflight.add(op.id)
            if stuck:
                # Never two passes on one row here: leave it to another process for a while.
                later = now + timedelta(seconds=self.settings.lease_ttl)
                self.store.release(op.id, self.owner, next_at=later)
                continue
            self._pool.submit(self._work, op)
        if len(claimed) == free:
            return 0.0  # there may be more due right now
        return self.until_next_due(now)

    def claim_stops(self, now: datetime, *, read: bool = True) -> None:
        """Due stops, one pass at a time on their own thread (a stop's pass is short: a batch of
        pauses at most, then its messages). `read`: the tick's claim just read when the next
        unleased stop falls due; unless it is due by `now`, no look (a look is a read
        transaction at least), but one every STOP_RECHECK seconds whatever the read said."""
        if self.stops is None:
            return
        with self._inflight_changed:
            if self._stops_inflight:
                return
        # The loop ticks after every pass; a stop is looked for at most every STOP_LOOK seconds.
        look = time.monotonic()
        if look < self._next_stop_look:
            return
        if read and look < self._next_stop_recheck:
            due = self._next_stop_due
            if due is None or due > now:
                return
        self._next_stop_look = look + STOP_LOOK
        self._next_stop_recheck = look + STOP_RECHECK
        for stop in self.stops.claim(self.owner, 1):
            with self._inflight_changed:
                self._stops_inflight.add(stop.id)
            self._stop_pool.submit(self._work_stop, stop)

    def _work_stop(self, stop: Stop) -> None:
        assert self.stop_reconciler is not None
        try:
            self.stop_reconciler.process(stop)
        finally:
            with self._inflight_changed:
                self._stops_inflight.discard(stop.id)
            self._wake.set()

    def until_next_due(self, now: datetime) -> float:
        """Seconds until the earliest unleased row falls due (a poll is never late by a tick),
        as the last claim saw it, or the next due stop's (read in the same statement), if sooner."""
        due = self._next_due
        if self.stops is not None:
            stop_due = self._next_stop_due
            if stop_due is not None:
                # Not before the next look for a stop (STOP_LOOK), or the loop would spin.
                look = now + timedelta(seconds=max(0.0, self._next_stop_look - time.monotonic()))
                stop_due = max(stop_due, look)
                if due is None or stop_due < due:
                    due = stop_due
        if due is None:
            return self.idle_wait
        return min(self.idle_wait, max(0.0, float((due - now).total_seconds())))

    def renew_leases(self, now: datetime) -> None:
        """Heartbeat: keep the leases of operations still being worked on, so a slow remote call
        never lets another process take over a live holder's work; a dead holder stops renewing
        and its leases expire within LEASE_TTL, and so does a pass stuck over PASS_LIMIT."""
        if (
            self._last_renewal is not None
            and (now - self._last_renewal).total_seconds() < self.settings.lease_ttl / 3
        ):
            return
        with self._inflight_changed:
            stuck_ids = set(self._stuck_passes())
            ids = [i for i in self._inflight if i not in stuck_ids]
            stuck = len(stuck_ids)
        if stuck:
            log.warning(
                "%d tracker passes have run over %.0f s; their leases are left to expire", stuck, PASS_LIMIT
            )
        self._last_renewal = now
        self.store.renew(self.owner, ids)
        if self.stops is not None:
            with self._inflight_changed:
                stop_ids = list(self._stops_inflight)
            self.stops.renew(self.owner, stop_ids)

    def _stuck_passes(self) -> list[int]:
        """The rows whose pass here began over PASS_LIMIT ago (hold _inflight_changed)."""
        started = time.monotonic() - PASS_LIMIT
        return [i for i, began in self._passes.items() if began <= started]

    def claim(self, limit: int) -> list[Operation]:
        """Lease up to `limit` due rows, most overdue first."""
        now = self.clock.now()
        with self._inflight_changed:
            # Rows whose pass here is stuck: another process is to take them over, not us.
            stuck = self._stuck_passes() if self._passes else []
        claimed, self._next_due, self._next_stop_due = self.store.claim_and_next_due(
            self.owner, limit, stops=self.stops is not None, skip=stuck
        )
        # How late the most overdue operation is: grows when the tracker can't keep up.
        self.metrics.loop_lag.set(max(((now - op.next_poll_at).total_seconds() for op in claimed), default=0))
        return claimed

    def _work(self, op: Operation) -> None:
        with self._inflight_changed:
            self._passes[op.id] = time.monotonic()
        try:
            done = self.reconciler.process(op)
            if op.stop_id is not None and done.finished:
                # One sync of a stop is done: its stop may be final now, so look for it at once.
                self._next_stop_look = self._next_stop_recheck = 0.0
                self._wake.set()
            elif done.next_at is not None and done.next_at < self._next_tick:
                self._wake.set()  # due before the sleeping loop would look
        finally:
            with self._inflight_changed:
                self._inflight.discard(op.id)
                self._passes.pop(op.id, None)
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
        self._stop_pool.shutdown(wait=False, cancel_futures=True)
        self.release_all()

    def release_all(self, *, everyone: bool = False) -> None:
        try:
            self.store.release_all(None if everyone else self.owner)
            if self.stops is not None:
                self.stops.release_all(None if everyone else self.owner)
        except OperationalError:
            log.warning("could not release leases; they expire in %s s", self.settings.lease_ttl)
