"""The events poller: the webhook's backstop, because Polytomic delivers at most once, in no
order, and to one webhook per organization (which another deployment may own).

Every POLYTOMIC_EVENTS_INTERVAL seconds, in one process at a time across replicas (a lease on
the `event_poller` row, as for operations), it reads GET /api/events from the stored cursor
less an overlap window (events may turn up late, stamped earlier; the clocks may differ), up to
now, whatever order Polytomic sorts in, page after page while pages come back full
(bot/polytomic/event_window.py). Every event goes through the feed (bot/feed/ingest.py), which
stores each once, so what the webhook brought, or the overlap reads again, changes nothing.
Then the cursor moves to where the read is certain to be complete, never backwards, only while
the lease is held. A restart resumes from the stored cursor, so no event is lost, and the
unique key means none is handled twice. Events older than Polytomic's 48 hours are pruned.

403 or 404 (an old deployment, or a key without the permission): one warning, then the poller
backs off (doubling up to an hour) and says nothing more until the API answers again.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.db.events import RETENTION, EventStore, Incoming
from bot.feed.ingest import Feed
from bot.polytomic import Forbidden, NotFound, PolytomicClient, PolytomicError
from bot.polytomic.event_window import EventWindow
from bot.polytomic.events import event_key

log = logging.getLogger("bot.feed")

OVERLAP = timedelta(seconds=120)  # re-read behind the cursor: late events, skewed clocks
FIRST_LOOK_BACK = timedelta(seconds=300)  # the very first poll reads this far back
MAX_BACKOFF = 3600.0  # seconds between tries while the events API is refused
MAX_REQUESTS = 50  # pages per poll; the rest is read at the next one (the cursor says where)


class EventPoller:
    def __init__(
        self,
        store: EventStore,
        feed: Feed,
        polytomic: PolytomicClient,
        *,
        interval: float,
        owner: str,
        lease_ttl: float,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if interval <= 0:
            raise ValueError("the events poller needs an interval > 0")
        self.store = store
        self.feed = feed
        self.polytomic = polytomic
        self.interval = interval
        self.owner = owner
        # Held past the next poll, so the holder keeps it; a dead holder's lapses soon after.
        self.lease_seconds = interval + max(lease_ttl, 5.0)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused = 0  # consecutive 403/404 answers
        self.last_error: str | None = None

    # ---- one poll ---------------------------------------------------------------------

    def poll_once(self) -> int | None:
        """Take the lease and read what is new; the number of new events, or None when
        another process holds the lease (or this one is backing off)."""
        cursor = self.store.lease(self.owner, self.lease_seconds)
        if cursor is False:
            return None
        now = self.clock.now()
        start = (cursor - OVERLAP) if cursor is not None else now - FIRST_LOOK_BACK
        start = max(start, now - RETENTION)
        try:
            window = self.polytomic.read_events(start, None, max_requests=MAX_REQUESTS)
        except (Forbidden, NotFound) as error:
            if not self._refused:
                log.warning(
                    "the events API refused the bot (HTTP %s): polling events is paused, the "
                    "webhook (if any) and status polls still work; check the key's permissions "
                    "or the deployment's version",
                    error.status,
                )
            self._refused += 1
            self.last_error = f"HTTP {error.status}"
            return 0
        except PolytomicError as error:
            log.info("events poll failed: %s", type(error).__name__)
            self.last_error = type(error).__name__
            return 0
        if self._refused:
            log.info("the events API answers again")
        self._refused = 0
        self.last_error = None
        incoming = [Incoming(event_key(e), e) for e in window.events]  # JSON made only if new
        taken = self.feed.take(incoming, "poll")
        self.store.advance(self.owner, self._cursor(cursor, window, now))
        if not window.complete:
            log.info(
                "events poll incomplete: the rest is read next time", extra={"requests": window.requests}
            )
        return len(taken.new)

    def _cursor(self, cursor: datetime | None, window: EventWindow, now: datetime) -> datetime | None:
        """Where the next poll starts (before its overlap), never backwards: a complete read
        of the open-ended window has seen everything up to now, less what may still turn up
        late, which the overlap re-reads; an incomplete one as far as it is certain."""
        if window.complete:
            reach: datetime | None = max(d for d in (window.newest, now - OVERLAP) if d is not None)
        else:
            reach = window.covered_until
        if reach is None or (cursor is not None and reach < cursor):
            return cursor
        return reach

    def wait_seconds(self) -> float:
        if not self._refused:
            return self.interval
        return float(min(MAX_BACKOFF, self.interval * 2.0 ** min(self._refused, 12)))

    # ---- the thread -------------------------------------------------------------------

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run_forever, name="events-poller", daemon=True)
        self._thread.start()
        return self._thread

    def run_forever(self) -> None:
        log.info("events poller started", extra={"owner": self.owner, "interval": self.interval})
        while not self._stop.is_set():
            wait = self.interval
            try:
                self.poll_once()
                wait = self.wait_seconds()
                self.store.prune()
            except SQLAlchemyError as error:
                log.warning("events poller cannot reach the database: %s", type(error).__name__)
            except Exception:
                log.exception("events poll failed")
            self._stop.wait(wait)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.store.release(self.owner)
        except SQLAlchemyError:
            log.warning("could not release the events poller's lease; it lapses by itself")
