"""The fake Polytomic's runs (executions) of a model sync, on a real monotonic clock: how a run
moves from queued to running to an end, what it has written, and the events it emits.

A run is `queued` for `pending_for` seconds, then `running`; it may end on its own (`outcome`,
`after`); a cancel makes it `canceling` and, `cancel_delay` seconds later, `cancel_outcome`.
State is evaluated lazily (`_settle`) on every read and by the server's clock at each due
time, and each state change emits its event (sync.running, then one of sync.completed,
sync.completed_with_errors, sync.failed, sync.canceled) exactly once, stamped when it is
found. The sync a run belongs to, and its schedule, are syncs.py.

Everything here runs under the server's lock (`fake._lock`); the public properties and
methods take it themselves.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from bot.fakes.polytomic.common import ACTIVE_STATUSES, RUNNING_STATUSES, TERMINAL_STATUSES, rfc3339

if TYPE_CHECKING:
    from bot.fakes.polytomic.server import FakePolytomic
    from bot.fakes.polytomic.syncs import FakeSync

__all__ = ["FakeExecution"]


class FakeExecution:
    """One run of a FakeSync. Read `status`/`counts` any time; they follow the clock."""

    def __init__(
        self,
        fake: FakePolytomic,
        sync: FakeSync,
        *,
        status: str,
        outcome: str | None,
        after: float | None,
        cancel_delay: float | None,
        cancel_outcome: str,
        rows_per_second: float,
        errors: list[str] | None,
        pending_for: float,
        type: str,
        created_mono: float,
    ) -> None:
        if status not in ACTIVE_STATUSES:
            raise ValueError(f"status must be one of {sorted(ACTIVE_STATUSES)}")
        if outcome is not None and outcome not in TERMINAL_STATUSES:
            raise ValueError(f"outcome must be one of {sorted(TERMINAL_STATUSES)}")
        if (outcome is None) != (after is None):
            raise ValueError("give both outcome and after, or neither")
        if cancel_outcome not in TERMINAL_STATUSES:
            raise ValueError(f"cancel_outcome must be one of {sorted(TERMINAL_STATUSES)}")
        self._fake = fake
        self.sync = sync
        self.id = str(uuid.uuid4())
        self.type = type
        self.running_status = status
        self.outcome = outcome
        self.after = after
        self.cancel_delay = cancel_delay
        self.cancel_outcome = cancel_outcome
        self.rows_per_second = rows_per_second
        self.errors = list(errors or [])
        self.pending_for = pending_for
        self.created_mono = created_mono
        self.cancel_requested_mono: float | None = None
        self._final: str | None = None
        self._final_mono: float | None = None
        self._fixed_rows: int | None = None
        # Which events this run has emitted, so each state change emits exactly one.
        self._said_running = False
        self._said_end = False

    def __repr__(self) -> str:
        return f"FakeExecution(id={self.id!r}, status={self.status!r})"

    # -- the clock

    def _settle(self, now: float) -> tuple[str, float | None]:
        """(status, end time) at `now`; records the end once reached, so it never moves, and
        emits the event of each state change it finds (once: the server stamps it now)."""
        status, end = self._state(now)
        if not self._said_end:
            if not self._said_running and self._start_of(end, now) is not None:
                self._said_running = True
                self._fake._announce(self, "sync.running", now)
            if end is not None:
                self._said_end = True
                self._fake._announce(self, self._end_event(status), now)
        return status, end

    def _state(self, now: float) -> tuple[str, float | None]:
        if self._final is not None:
            return self._final, self._final_mono
        if self.cancel_requested_mono is not None:
            if self.cancel_delay is not None and now >= self.cancel_requested_mono + self.cancel_delay:
                self._end(self.cancel_outcome, self.cancel_requested_mono + self.cancel_delay)
                return self._state(now)
            return "canceling", None
        if self.outcome is not None and self.after is not None and now >= self.created_mono + self.after:
            self._end(self.outcome, self.created_mono + self.after)
            return self._state(now)
        if now < self.created_mono + self.pending_for:
            return "queued", None
        return self.running_status, None

    def _end(self, status: str, at: float) -> None:
        self._final, self._final_mono = status, at

    def _end_event(self, status: str) -> str | None:
        """The event type of ending in `status`; None for `interrupted`, which no event type
        covers (the bot learns of it by polling)."""
        if status == "completed":
            return "sync.completed_with_errors" if self.errors else "sync.completed"
        return {"canceled": "sync.canceled", "failed": "sync.failed"}.get(status)

    def _start_of(self, end: float | None, now: float) -> float | None:
        start = self.created_mono + self.pending_for
        horizon = end if end is not None else now
        if self.running_status not in RUNNING_STATUSES or horizon < start:
            return None
        if self.cancel_requested_mono is not None and self.cancel_requested_mono < start:
            return None  # canceled while still queued: it never ran
        return start

    def _started_mono(self, now: float) -> float | None:
        _, end = self._settle(now)
        return self._start_of(end, now)

    def _deadlines(self) -> list[float]:
        """When this run may next change state on its own (for the server's clock)."""
        if self._final is not None:
            return []
        times = [self.created_mono + self.pending_for]
        if self.outcome is not None and self.after is not None:
            times.append(self.created_mono + self.after)
        if self.cancel_requested_mono is not None and self.cancel_delay is not None:
            times.append(self.cancel_requested_mono + self.cancel_delay)
        return times

    def _tick(self, now: float) -> None:
        self._settle(now)

    def _rows(self, now: float) -> int:
        if self._fixed_rows is not None:
            return self._fixed_rows
        start = self._started_mono(now)
        if start is None:
            return 0
        _, end = self._settle(now)
        horizon = end if end is not None else now
        return max(0, int(self.rows_per_second * (horizon - start)))

    def _is_active(self, now: float) -> bool:
        return self._settle(now)[0] not in TERMINAL_STATUSES

    def _request_cancel(self, now: float) -> bool:
        """True when the cancel found the run active (it acted)."""
        if not self._is_active(now):
            return False
        if self.cancel_requested_mono is None:
            self.cancel_requested_mono = now
            self._fake._wake(self)
        return True

    def _to_json(self, now: float) -> dict[str, Any]:
        status, end = self._settle(now)
        started = self._started_mono(now)
        rows = self._rows(now)
        update = rows // 3
        if status == "failed":
            errors = self.errors or ["Sync failed"]
        elif status == "completed":
            errors = list(self.errors)  # completed with record errors
        else:
            errors = []
        return {
            "id": self.id,
            "status": status,
            "type": self.type,
            "created_at": rfc3339(self._fake._wall(self.created_mono)),
            "started_at": rfc3339(self._fake._wall(started)) if started is not None else None,
            "completed_at": rfc3339(self._fake._wall(end)) if end is not None else None,
            "counts": {
                "insert": rows - update,
                "update": update,
                "delete": 0,
                "upserts": 0,
                "error": len(errors),
                "warnings": 0,
                "total": rows,
            },
            "errors": errors,
        }

    # -- for tests

    @property
    def status(self) -> str:
        with self._fake._lock:
            return self._settle(time.monotonic())[0]

    @property
    def is_active(self) -> bool:
        with self._fake._lock:
            return self._is_active(time.monotonic())

    @property
    def ended_at(self) -> float | None:
        """When (Unix time) the run turned terminal, None while it is active."""
        with self._fake._lock:
            _, end = self._settle(time.monotonic())
            return None if end is None else self._fake._wall(end)

    @property
    def cancel_requested(self) -> bool:
        with self._fake._lock:
            return self.cancel_requested_mono is not None

    @property
    def rows(self) -> int:
        with self._fake._lock:
            return self._rows(time.monotonic())

    def as_json(self) -> dict[str, Any]:
        """What GET .../executions/{id} answers right now."""
        with self._fake._lock:
            return self._to_json(time.monotonic())

    def finish(self, status: str = "completed", *, errors: list[str] | None = None) -> None:
        """End the run now (no-op when it already ended). `completed` with `errors` is a run
        that completed with record errors (event sync.completed_with_errors)."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(TERMINAL_STATUSES)}")
        with self._fake._lock:
            now = time.monotonic()
            if self._is_active(now):
                if errors is not None:
                    self.errors = list(errors)
                self._end(status, now)
                self._settle(now)  # emits its event
                self._fake._cond.notify_all()

    def cancel(self) -> bool:
        """A cancel from elsewhere (e.g. Polytomic's UI), not recorded as a request."""
        with self._fake._lock:
            return self._request_cancel(time.monotonic())
