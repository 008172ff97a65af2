"""The alerts' loop, beside the tracker's: take stored events in, then claim due digests and
alerts under leases and take each through one pass (bot.alerts.passes), then tell subscribers
of channels that went away. It keeps nothing in memory that the rows do not hold, so it
survives restarts and runs on several replicas (the stores' leases and conditional updates).

`run_due` does one look in the calling thread (the in-process tests and the demo, through
`Tracker.run_due`); `start` runs it on a thread of its own, waking every `interval` seconds or
when nudged (an event was stored, a click touched an alert), SETTLE seconds after the nudge so
that a burst of events is taken in by a few looks.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from bot.alerts.intake import Intake
from bot.alerts.passes import Context, alert_pass, digest_pass
from bot.clock import SYSTEM_CLOCK, Clock
from bot.db import subscriptions
from bot.db.alerts import AlertLeaseLost, AlertStore
from bot.db.models import Alert, AlertDigest
from bot.db.operations import OperationStore
from bot.polytomic import PolytomicClient
from bot.slack import SlackError, SlackGateway
from bot.views.alerts import channel_gone_note
from bot.views.blocks import escape

log = logging.getLogger("bot.alerts")

CLAIM = 20  # rows claimed per look
AFTER_A_FAILED_PASS = 30.0  # seconds
SETTLE = 0.2  # seconds a nudged look waits for the rest of a burst


class AlertWorker:
    def __init__(
        self,
        store: AlertStore,
        operations: OperationStore,
        slack: SlackGateway,
        polytomic: PolytomicClient,
        *,
        owner: str,
        sync_url: str | None,
        interval: float = 1.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.operations = operations
        self.slack = slack
        self.polytomic = polytomic
        self.owner = owner
        self.sync_url = sync_url
        self.interval = interval
        self.clock = clock
        self.intake = Intake(store, polytomic)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def context(self) -> Context:
        return Context(
            self.store,
            self.operations,
            self.slack,
            self.polytomic,
            self.owner,
            self.sync_url,
            self.clock.now(),
        )

    def run_due(self) -> int:
        """One look: intake, digests, alerts, notes about channels gone; the rows passed over."""
        self.intake.run_once()
        done = 0
        # One read: an idle look claims (writes) nothing, and tells nobody when nobody waits.
        due, untold = self.store.look_ahead()
        if due is not None and due <= self.clock.now():
            for digests in (True, False):
                for row in self.store.claim(self.owner, CLAIM, digests=digests):
                    self._process(row)
                    done += 1
        if untold or done:  # a pass may have found a channel gone: its subscribers hear now
            self.tell_gone()
        return done

    def _process(self, row: Alert | AlertDigest) -> None:
        ctx = self.context()
        try:
            wants = digest_pass(ctx, row) if isinstance(row, AlertDigest) else alert_pass(ctx, row)
        except AlertLeaseLost:
            log.warning("alerts: lease lost", extra={"row": row.id})
            return
        except Exception as error:
            log.exception("alerts: a pass failed", extra={"row": row.id})
            changes = {}
            if isinstance(row, Alert):
                changes = {"attempts": row.attempts + 1, "step_error": type(error).__name__}
            self.store.release(
                row, self.owner, self.clock.now() + timedelta(seconds=AFTER_A_FAILED_PASS), **changes
            )
            return
        if wants is None:
            self.store.finish(row, self.owner)
        else:
            self.store.release(row, self.owner, self.clock.now() + timedelta(seconds=max(0.05, wants)))

    def tell_gone(self) -> None:
        """Whoever subscribed in a channel that went away hears of it once, in a DM."""
        untold = subscriptions.untold(self.store.db)
        by_person: dict[tuple[str, str], list[int]] = {}
        scopes: dict[tuple[str, str], list[str]] = {}
        reasons: dict[tuple[str, str], str] = {}
        for sub in untold:
            key = (sub.created_by, sub.channel_id)
            by_person.setdefault(key, []).append(sub.id)
            shown = "*" if sub.scope_kind == "all" else f"{sub.scope_kind} {sub.scope_name or sub.scope_id}"
            scopes.setdefault(key, []).append(escape(shown[:100]))
            reasons[key] = sub.disabled_reason or "gone"
        for (person, channel), ids in by_person.items():
            # Marked first: of two processes, one tells; a DM that fails is not retried forever.
            if subscriptions.told(self.store.db, ids) != len(ids):
                continue
            try:
                self.slack.post_message(
                    person, channel_gone_note(channel, reasons[(person, channel)], scopes[(person, channel)])
                )
            except SlackError as error:
                log.warning("alerts: could not tell a subscriber: %s", type(error).__name__)

    # ---- the thread ------------------------------------------------------------------

    def nudge(self) -> None:
        self._wake.set()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()
        return self._thread

    def _run(self) -> None:
        if self.store.db.dialect == "sqlite":
            # This process holds the SQLite file's lock, so any lease in it is a dead process's:
            # take the work back now instead of waiting for the leases to expire (as the tracker).
            try:
                self.store.release_all(None)
            except OperationalError:
                log.warning("alerts: could not take back the leases of a dead process")
        failures = 0
        while not self._stop.is_set():
            try:
                self.run_due()
                failures = 0
            except OperationalError:
                failures += 1
                log.warning("alerts cannot reach the database")
                self._stop.wait(min(30.0, 0.5 * 2**failures))
                continue
            except Exception:
                log.exception("alerts look failed")
            if self._wake.wait(self.interval) and not self._stop.is_set():
                # Nudged (an event stored, a click): let a burst of deliveries land, so that a
                # thousand events are a few looks, not one each. Cleared after: a nudge before
                # the clear is for an event committed before the look's read, which sees it.
                self._stop.wait(SETTLE)
            self._wake.clear()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.store.release_all(self.owner)
        except OperationalError:
            log.warning("alerts: could not release leases")
