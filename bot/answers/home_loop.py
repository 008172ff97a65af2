"""HomeRefresher: republishes the open Home tabs whose viewer's operations changed.

The tracker marks a viewer's home stale when an operation they started changes state
(`stale`, wired in bot/services.py: one conditional UPDATE, which touches only homes opened in
the last 10 minutes). This loop claims the stale homes whose 5-second window has passed
(bot/db/homes.py: the claim is a conditional UPDATE, so on several replicas each home is
republished by one of them, at most once per window) and hands each to the homes' lane of the
responder. It keeps nothing in memory: a restarted process finds the stale rows where they were.
`run_due` does one round in the calling thread, for in-process tests and the demo.
"""

from __future__ import annotations

import logging
import threading
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


class HomeRefresher:
    def __init__(self, homes: HomeStore, answers: HomeAnswers, responder: Responder, clock: Clock) -> None:
        self.homes = homes
        self.answers = answers
        self.responder = responder
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stale(self, user_ids: Sequence[str]) -> None:
        """Operations of these people changed state: their open homes are due again."""
        try:
            if self.homes.mark_stale(user_ids):
                self._wake.set()
        except SQLAlchemyError as error:  # a home a little late is not worth failing a pass for
            log.warning("could not mark homes stale: %s", type(error).__name__)

    def run_due(self) -> list[OpenHome]:
        """Claim the homes due now and hand each to the homes' lane; returns them."""
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
        while not self._stop.is_set():
            wait = IDLE_WAIT
            try:
                if len(self.run_due()) == CLAIM_AT_ONCE:
                    continue  # there may be more due now
                due = self.homes.next_due()
                if due is not None:
                    wait = min(IDLE_WAIT, max(0.05, (due - self.clock.now()).total_seconds()))
            except SQLAlchemyError as error:
                log.warning("home refresher cannot reach the database: %s", type(error).__name__)
            except Exception:
                log.exception("home refresher round failed")
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
