"""The pool that does the work after an ack: Polytomic look-ups and response_url answers.

Bolt's sync App runs listeners on one small shared executor; work that waits on Polytomic or
Slack would starve new requests of their 3-second ack window, so it runs here instead. And
acks go first: while Slack requests are being handled, this work waits (a moment at most),
because the ack has a deadline and the answer does not. An answer that fails on its way still
ends in a reply (`_tell`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("bot.responder")

LISTING_WORKERS = 4  # threads of the listings' own lane (Responder.submit_listing)
HOME_WORKERS = 4  # threads of the Home tabs' own lane (Responder.submit_home)
YIELD_AT_MOST = 1.0  # seconds an answer waits for the requests being handled to be acked
QUIET = 0.05  # seconds without a new request that count as a lull (a burst has gaps shorter)


class AckGate:
    """Counts the Slack requests being handled, so that work which can wait lets them finish
    first. Threads share one interpreter lock: an answer being rendered is an ack delayed."""

    def __init__(self) -> None:
        self._handling = 0
        self._last_start = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def handling(self) -> Iterator[None]:
        with self._lock:
            self._handling += 1
            self._last_start = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._handling -= 1

    def wait_quiet(self, at_most: float) -> None:
        """Return in a lull (no request being handled, none started for QUIET seconds), or
        after `at_most` seconds. A lone command's answer waits QUIET at most. Waiters look
        again on their own clock instead of being notified: a burst has a gap between most of
        its requests, and waking every waiter at each would cost the acks more than it saves."""
        deadline = time.monotonic() + at_most
        while True:
            now = time.monotonic()
            with self._lock:
                busy, lull_at = self._handling > 0, self._last_start + QUIET
            if now >= deadline or (not busy and now >= lull_at):
                return
            time.sleep(min(deadline, now + QUIET if busy else lull_at) - now)


def _tell(args: tuple[Any, ...], error: Exception) -> None:
    """Every answer ends in a reply: one that failed on its way tells its requester so, without
    claiming that nothing changed (what it did before the failure may stand)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.answers.requester import Requester
    from bot.db.bounds import OutcomeUnknown
    from bot.views import replies

    req = next((a for a in args if isinstance(a, Requester)), None)
    if req is None:
        return
    if isinstance(error, OutcomeUnknown):
        view = replies.recorded_in_doubt()
    elif isinstance(error, SQLAlchemyError):
        view = replies.database_failure()
    else:
        view = replies.answer_failed()
    try:
        req.answer(view)
    except Exception:
        log.exception("could not tell the requester that their answer failed")


class Responder:
    """Runs answers on `workers` threads. Listings (`/polytomic list`, which anyone may run, as
    often as they like) go on a lane of their own, `listing_workers` wide (`submit_listing`): a
    storm of them queues there, and every other answer (a cancel prompt above all) still finds
    a free thread at once. Home tabs (opened, refreshed, republished: a burst when many open
    theirs, and publishes wait for their turn at Slack) have a lane of their own too
    (`submit_home`, `home_workers` wide)."""

    def __init__(
        self,
        workers: int = 32,
        gate: AckGate | None = None,
        *,
        listing_workers: int = LISTING_WORKERS,
        home_workers: int = HOME_WORKERS,
    ) -> None:
        self._listing = ThreadPoolExecutor(listing_workers, thread_name_prefix="responder-listing")
        self._home = ThreadPoolExecutor(home_workers, thread_name_prefix="responder-home")
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="responder")
        self._gate = gate
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., object], *args: Any) -> Future[None]:
        return self._submit_to(self._pool, fn, *args)

    def _submit_to(self, pool: ThreadPoolExecutor, fn: Callable[..., object], *args: Any) -> Future[None]:
        with self._idle:
            self._pending += 1
        try:
            future = pool.submit(self._run, fn, *args)
        except BaseException:
            self._done()
            raise
        future.add_done_callback(lambda _: self._done())
        return future

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every answer submitted so far (and any it submitted) has run; False after
        `timeout` s. For in-process tests and the demo: an answer is awaited, not slept for."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self, fn: Callable[..., object], *args: Any) -> None:
        if self._gate is not None:
            self._gate.wait_quiet(YIELD_AT_MOST)
        try:
            fn(*args)
        except Exception as error:
            log.exception("answer failed: %s", getattr(fn, "__name__", "?"))
            _tell(args, error)

    def submit_listing(self, fn: Callable[..., object], *args: Any) -> Future[None]:
        """`submit`, on the listings' lane (counted by `wait_idle` too)."""
        return self._submit_to(self._listing, fn, *args)

    def submit_home(self, fn: Callable[..., object], *args: Any) -> Future[None]:
        """`submit`, on the Home tabs' lane (counted by `wait_idle` too)."""
        return self._submit_to(self._home, fn, *args)

    def shutdown(self, wait: bool = True) -> None:
        self._home.shutdown(wait=wait, cancel_futures=not wait)
        self._listing.shutdown(wait=wait, cancel_futures=not wait)
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
