"""How long the bot waits for its database, at most, and what it says when that runs out.

A database whose network path goes silent must not hold a request thread, a tracker worker or
`/healthz` for ever. The waits are bounded at every level:

- PostgreSQL, server side (`PG_OPTIONS`): statement_timeout, lock_timeout, and
  idle_in_transaction_session_timeout (a client that vanished mid-transaction frees its locks);
- PostgreSQL, the connection (`PG_CONNECT`): connect_timeout, TCP keepalives and
  tcp_user_timeout, so a dead peer is noticed by the kernel;
- PostgreSQL, client side: every wait of psycopg's on the socket (`BoundedPgConnection.wait`:
  a statement, a fetch, a COMMIT) ends within the calling thread's `window`, TRANSACTION_SECONDS
  when none is open, and the connection is closed when it does (its state is unknown). This is
  the bound that holds when packets are acknowledged but never answered (a hung proxy);
- SQLite: the busy timeout is the window's remainder, SQLITE_BUSY_SECONDS at most.

A write that fails says which of two things happened: a SQLAlchemyError when it did not happen
(a statement failed, the deadline passed before COMMIT was sent, or the server refused the
COMMIT), `OutcomeUnknown` when COMMIT was sent and no answer came (it may have happened).
engine.Database raises them; the answers say "nothing was changed" only for the first.

Migrations use none of this (bot.db.migrate builds its own engine): a long upgrade is never cut.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = [
    "CLICK_SECONDS",
    "PG_CONNECT",
    "PG_OPTIONS",
    "SQLITE_BUSY_SECONDS",
    "TRANSACTION_SECONDS",
    "OutcomeUnknown",
    "left",
    "not_sent",
    "not_sent_error",
    "pg_connection_class",
    "window",
]

# A confirm click's insert: Slack wants the ack within 3 s, and the ack says what happened.
CLICK_SECONDS: Final = 2.0
# Any other transaction (the tracker's, an answer's, a probe's), when no window is open.
TRANSACTION_SECONDS: Final = 10.0
SQLITE_BUSY_SECONDS: Final = 5.0  # another process holding the file's write lock

STATEMENT_TIMEOUT_MS: Final = 5_000
LOCK_TIMEOUT_MS: Final = 2_000
IDLE_IN_TRANSACTION_MS: Final = 30_000
PG_OPTIONS: Final = (
    f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
    f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
)
CONNECT_SECONDS: Final = 3
# libpq's names; a value in DATABASE_URL's query string wins over these.
PG_CONNECT: Final[dict[str, Any]] = {
    "connect_timeout": CONNECT_SECONDS,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # ms of unacknowledged data before the kernel drops the link
}


class OutcomeUnknown(Exception):
    """COMMIT was sent and no answer came back: the write may or may not have happened. Not a
    SQLAlchemyError on purpose: code that says "nothing was changed" on any SQLAlchemyError
    must never say it for this."""


_thread = threading.local()


@contextmanager
def window(seconds: float) -> Iterator[float]:
    """Every database wait on this thread ends within `seconds` from now (or within an
    enclosing window, if that ends sooner); yields the monotonic time it ends."""
    outer: float | None = getattr(_thread, "ends", None)
    ends = time.monotonic() + seconds
    if outer is not None:
        ends = min(ends, outer)
    _thread.ends = ends
    try:
        yield ends
    finally:
        _thread.ends = outer


def left(default: float = TRANSACTION_SECONDS) -> float:
    """Seconds left in this thread's window (`default` when none is open); <= 0 once spent."""
    ends: float | None = getattr(_thread, "ends", None)
    return default if ends is None else ends - time.monotonic()


def connect_timeout() -> int:
    """libpq's connect_timeout for a connection opened now: whole seconds, 2 at least (libpq's
    own floor), no more than the window leaves."""
    return max(2, min(CONNECT_SECONDS, math.ceil(left())))


@functools.cache
def _not_sent() -> type[Exception]:
    import psycopg

    class NotSent(psycopg.OperationalError):
        """Nothing was sent: the window was spent before this call began."""

    return NotSent


def not_sent_error(message: str) -> Exception:
    """The psycopg error for a call the window left no time to send."""
    return _not_sent()(message)


def not_sent(error: BaseException | None) -> bool:
    """Whether a psycopg error says the call was never sent (so a COMMIT did not happen)."""
    return isinstance(error, _not_sent())


@functools.cache
def pg_connection_class() -> type[Any]:
    """psycopg's Connection with every wait bounded by the thread's window (psycopg is only
    imported when the database is PostgreSQL)."""
    import psycopg
    from psycopg import errors

    NotSent = _not_sent()

    class BoundedPgConnection(psycopg.Connection[Any]):
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            remaining = left()
            if remaining <= 0:
                raise NotSent("the database deadline passed before the call was sent")
            bound = remaining if timeout is None else min(timeout, remaining)
            try:
                return super().wait(gen, interval=interval, timeout=bound)
            except errors._WaitTimeout:
                # Mid-protocol: the connection cannot be used again (the pool discards it).
                self.close()
                raise psycopg.OperationalError(f"no answer from the database within {bound:.1f} s") from None

    return BoundedPgConnection
