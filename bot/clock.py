"""The one clock: what time it is, for the tracker, the stores, the answers and the views.

Passed in at wiring time (`bot.services`) and read everywhere a row's times are set or compared
(due, lease, deadline, progress, elapsed), so that a test or the demo can move time on instead
of waiting for it: `ManualClock.advance(31)` makes a progress refresh or an escalation due at
once. The views take `now` as an argument and never read a clock themselves.

Not covered, on purpose: the waits of the tracker's threads and of the Slack pacer, which are
real time (`threading.Event.wait`, `time.monotonic`): they pace real calls to real servers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told to (thread-safe): for in-process tests and the demo."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move on by `seconds` (never back); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
