"""HomeRefresher: republishes the open Home tabs whose viewer's operations changed.

The tracker tells it when an operation someone started changes state (`stale`, wired in
bot/services.py). Those viewers are gathered for up to `SETTLE` seconds and then marked stale
together (bot/db/homes.py: one read, which finds that almost nobody's home is open, and a
conditional UPDATE of the homes opened in the last 10 minutes): a tracker pass no longer spends
a database round of its own on it, and a burst of passes costs one. This loop then claims the
stale homes whose 5-second window has passed (bot/db/homes.py: the claim is a conditional
UPDATE, so on several replicas each home is republished by one of them, at most once per
window) and hands each to the homes' lane of the responder; it claims only when a read
(`next_due`) says a home is due, so an idle round writes nothing.

What it keeps in memory is only who changed in the last `SETTLE` seconds and is not yet
marked: a process that dies in that instant leaves those homes as they were until the viewer's
next change or next visit (opening the tab publishes it afresh); a restarted process finds the
stale rows where they were. `run_due` does one round in the calling thread, for in-process
tests and the demo.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from bot.answers.home import HomeAnswers
from bot.clock import Clock
from bot.db.homes import HomeStore, OpenHome
from bot.responder import Responder

log = logging.getLogger("bot.answers.home")

IDLE_WAIT: Final = 1.0  # seconds between looks when nothing is due sooner
CLAIM_AT_ONCE: Final = 20  # homes claimed in one round
SETTLE: Final = 0.1  # seconds a change waits for others before their homes are marked stale


class HomeRefresher:
    def __init__(self, homes: HomeStore, answers: HomeAnswers, responder: Responder, clock: Clock) -> None:
        self.homes = homes
        self.answers = answers
        self.responder = responder
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending_lock = threading.Lock()
        self._pending: set[str] = set()  # viewers whose operations changed, not yet marked
        self._thread: threading.Thread | None = None

    def stale(self, user_ids: Sequence[str]) -> None:
        """Operations of these people changed state: their open homes are due again (marked
        by the loop within `SETTLE` seconds, or by the next `run_due`)."""
        if not user_ids:
            return
        with self._pending_lock:
            self._pending.update(user_ids)
        self._wake.set()

    def mark_pending(self) -> int:
        """Mark the homes of everyone told since the last call stale, in one go; returns how
        many open homes that made due. On a database error they are kept for the next round."""
        with self._pending_lock:
            users, self._pending = sorted(self._pending), set()
        if not users:
            return 0
        try:
            return self.homes.mark_stale(users)
        except SQLAlchemyError as error:  # a home a little late is not worth failing over
            log.warning("could not mark homes stale: %s", type(error).__name__)
            with self._pending_lock:
                self._pending.update(users)
            return 0

    def run_due(self) -> list[OpenHome]:
        """Mark the homes told of, claim those due now and hand each to the homes' lane;
        returns them."""
        self.mark_pending()
        return self._claim()

    def _claim(self) -> list[OpenHome]:
        claimed = self.homes.claim_due(CLAIM_AT_ONCE)
        for open_home in claimed:
            self.responder.submit_home(self.answers.republish, open_home)
        return claimed

    # ---- the loop -------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._run, name="home-refresher", daemon=True)
        self._thread.start()
        return self._thread

    def _run(self) -> None:
        look_at = 0.0  # time.monotonic() of the next claim, unless a mark makes one due sooner
        while not self._stop.is_set():
            wait = IDLE_WAIT
            try:
                # A change that marked no open home moves no due time: no claim for it.
                if self.mark_pending() or time.monotonic() >= look_at:
                    # A read first: nearly always no home is due, and the claim is a write.
                    due = self.homes.next_due()
                    if due is not None and due <= self.clock.now():
                        if len(self._claim()) == CLAIM_AT_ONCE:
                            continue  # there may be more due now
                        due = self.homes.next_due()
                    if due is not None:
                        wait = min(IDLE_WAIT, max(0.05, (due - self.clock.now()).total_seconds()))
                    look_at = time.monotonic() + wait
                else:
                    wait = max(0.0, look_at - time.monotonic())
            except SQLAlchemyError as error:
                log.warning("home refresher cannot reach the database: %s", type(error).__name__)
            except Exception:
                log.exception("home refresher round failed")
            if self._wake.wait(wait):
                self._stop.wait(SETTLE)  # let a burst of passes gather into one mark
            self._wake.clear()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
