"""The fake Polytomic's model syncs and their runs (executions), on a real monotonic clock.

A run is `queued` for `pending_for` seconds, then `running`; it may end on its own (`outcome`,
`after`); a cancel makes it `canceling` and, `cancel_delay` seconds later, `cancel_outcome`.
State is evaluated lazily (`_settle`) on every read and by the server's clock at each due
time, and each state change emits its event (sync.running, then one of sync.completed,
sync.completed_with_errors, sync.failed, sync.canceled) exactly once, stamped when it is
found. A sync may run on a schedule (`schedule_runs`), which pausing suspends.

Everything here runs under the server's lock (`fake._lock`); the public properties and
methods take it themselves.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from bot.fakes.polytomic.common import ACTIVE_STATUSES, RUNNING_STATUSES, TERMINAL_STATUSES, rfc3339

if TYPE_CHECKING:
    from bot.fakes.polytomic.server import FakePolytomic

__all__ = ["START_DEFAULTS", "FakeExecution", "FakeSync"]

# What a run started through the API (or a schedule) uses unless the sync says otherwise.
START_DEFAULTS: Final[dict[str, Any]] = {
    "status": "running",
    "outcome": None,
    "after": None,
    "cancel_delay": 0.5,
    "cancel_outcome": "canceled",
    "rows_per_second": 100.0,
    "errors": None,
    "pending_for": 0.0,
    "type": "manual",
}


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


class FakeSync:
    """A model sync. `start_options` are the start_execution() keyword arguments used for
    runs started through POST /api/syncs/{id}/executions."""

    def __init__(
        self,
        fake: FakePolytomic,
        sync_id: str,
        name: str,
        *,
        active: bool,
        mode: str,
        target_connection_id: str,
        target_object: str,
        frequency: str,
        next_run_in: float | None,
        now: float,
    ) -> None:
        self._fake = fake
        self.id = sync_id
        self.name = name
        self.active = active
        self.mode = mode
        self.target_connection_id = target_connection_id
        self.target_object = target_object
        self.frequency = frequency
        self.next_run_in = next_run_in
        self.model_id = str(uuid.uuid4())
        self.created_mono = now
        self.updated_mono = now
        self._next_mono = now + next_run_in if next_run_in is not None else None
        self.executions: list[FakeExecution] = []
        self.start_options: dict[str, Any] = {}
        self._schedule: dict[str, Any] | None = None  # start options of scheduled runs, when on

    def __repr__(self) -> str:
        return f"FakeSync(id={self.id!r}, name={self.name!r})"

    def start_execution(
        self,
        *,
        status: str = "running",
        outcome: str | None = None,
        after: float | None = None,
        cancel_delay: float | None = 0.5,
        cancel_outcome: str = "canceled",
        rows_per_second: float = 100.0,
        errors: list[str] | None = None,
        pending_for: float = 0.0,
        type: str = "scheduled",
    ) -> FakeExecution:
        """Start a run now. Like Polytomic, a sync has at most one active run at a time."""
        with self._fake._lock:
            return self._start(
                time.monotonic(),
                status=status,
                outcome=outcome,
                after=after,
                cancel_delay=cancel_delay,
                cancel_outcome=cancel_outcome,
                rows_per_second=rows_per_second,
                errors=errors,
                pending_for=pending_for,
                type=type,
            )

    def _start(self, now: float, **options: Any) -> FakeExecution:
        if self._current(now) is not None:
            raise RuntimeError(f"sync {self.id} already has an active execution")
        execution = FakeExecution(self._fake, self, created_mono=now, **options)
        self.executions.append(execution)
        execution._settle(now)  # a run that starts running at once says so at once
        self._fake._wake(execution)
        self._fake._cond.notify_all()
        return execution

    def schedule_runs(self, every: float, *, first_in: float | None = None, **start_options: Any) -> None:
        """Start a run every `every` seconds (the first `first_in` seconds from now, default
        `every`) with these start_execution() options, as Polytomic's scheduler would: only
        while the sync is active (pausing skips runs; resuming schedules the next one `every`
        seconds later), and a due run finding the previous one still going is skipped.
        GET .../status reports the next time as next_execution_time."""
        if every <= 0:
            raise ValueError("every must be > 0")
        options = {"type": "scheduled", **start_options}
        with self._fake._lock:
            now = time.monotonic()
            self._schedule = options
            self.next_run_in = every
            self._next_mono = now + (every if first_in is None else first_in)
            self._fake._wake(self)

    def stop_schedule(self) -> None:
        with self._fake._lock:
            self._schedule = None

    def _deadlines(self) -> list[float]:
        if self._schedule is None or not self.active or self._next_mono is None:
            return []
        return [self._next_mono]

    def _tick(self, now: float) -> None:
        """The clock reached a due time: start the scheduled run, and arm the next one."""
        if self._schedule is None or not self.active or self._next_mono is None or now < self._next_mono:
            return
        if self._current(now) is None:
            self._start(now, **{**START_DEFAULTS, **self._schedule})
        every = self.next_run_in or 0.0
        while self._next_mono <= now:
            self._next_mono += every
        self._fake._wake(self)

    def finish_current(
        self, status: str = "failed", *, errors: list[str] | None = None
    ) -> FakeExecution | None:
        """End the run going now (e.g. make it fail now); the run, or None when none was."""
        with self._fake._lock:
            current = self._current(time.monotonic())
        if current is not None:
            current.finish(status, errors=errors)
        return current

    def add_past_execution(
        self,
        status: str = "completed",
        *,
        ago: float = 3600.0,
        duration: float = 60.0,
        rows: int = 1000,
        errors: list[str] | None = None,
        type: str = "scheduled",
    ) -> FakeExecution:
        """A finished run (history): created `ago` seconds ago, it lasted `duration` seconds."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(TERMINAL_STATUSES)}")
        with self._fake._lock:
            created = time.monotonic() - ago
            execution = FakeExecution(
                self._fake,
                self,
                status="running",
                outcome=None,
                after=None,
                cancel_delay=None,
                cancel_outcome="canceled",
                rows_per_second=0.0,
                errors=errors,
                pending_for=0.0,
                type=type,
                created_mono=created,
            )
            execution._fixed_rows = rows
            execution._end(status, created + duration)
            # History from before the fake began: it emitted no events.
            execution._said_running = execution._said_end = True
            self.executions.append(execution)
            self.executions.sort(key=lambda e: e.created_mono)
            return execution

    def set_active(self, active: bool) -> None:
        with self._fake._lock:
            self._set_active(active, time.monotonic())

    def _set_active(self, active: bool, now: float) -> None:
        resumed = active and not self.active
        if resumed and self.next_run_in is not None:
            self._next_mono = now + self.next_run_in
        self.active = active
        self.updated_mono = now
        if resumed:
            self._fake._wake(self)

    def _current(self, now: float) -> FakeExecution | None:
        for execution in reversed(self.executions):
            if execution._is_active(now):
                return execution
        return None

    def _last(self, now: float) -> FakeExecution | None:
        for execution in reversed(self.executions):
            if not execution._is_active(now):
                return execution
        return None

    @property
    def current_execution(self) -> FakeExecution | None:
        with self._fake._lock:
            return self._current(time.monotonic())

    @property
    def last_execution(self) -> FakeExecution | None:
        with self._fake._lock:
            return self._last(time.monotonic())

    def _actor(self) -> dict[str, Any]:
        return {"id": self._fake.user_id, "name": "Fake User", "type": "user"}

    def _get_json(self) -> dict[str, Any]:
        """GET /api/syncs/{id}: the ModelSyncV5Response shape (nested target)."""
        wall = self._fake._wall
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "mode": self.mode,
            "organization_id": self._fake.organization_id,
            "model_ids": [self.model_id],
            "target": {"connection_id": self.target_connection_id, "object": self.target_object},
            "schedule": {"frequency": self.frequency},
            "fields": [
                {"target": "Email", "source": {"model_id": self.model_id, "field": "email"}, "new": False}
            ],
            "identity": {
                "function": "Equality",
                "source": {"model_id": self.model_id, "field": "email"},
                "target": "Email",
                "new_field": False,
            },
            "filters": [],
            "overrides": [],
            "override_fields": [],
            "policies": [],
            "only_enrich_updates": False,
            "skip_initial_backfill": False,
            "sync_all_records": False,
            "created_at": rfc3339(wall(self.created_mono)),
            "updated_at": rfc3339(wall(self.updated_mono)),
            "created_by": self._actor(),
            "updated_by": self._actor(),
        }

    def _list_json(self) -> dict[str, Any]:
        """An item of GET /api/syncs: the ListSyncItem shape (flat target)."""
        wall = self._fake._wall
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "mode": self.mode,
            "organization_id": self._fake.organization_id,
            "model_ids": [self.model_id],
            "target_connection_id": self.target_connection_id,
            "target_object": self.target_object,
            "schedule": {"frequency": self.frequency},
            "only_enrich_updates": False,
            "skip_initial_backfill": False,
            "sync_all_records": False,
            "created_at": rfc3339(wall(self.created_mono)),
            "updated_at": rfc3339(wall(self.updated_mono)),
            "created_by": self._actor(),
            "updated_by": self._actor(),
        }

    def _status_json(self, now: float) -> dict[str, Any]:
        current, last = self._current(now), self._last(now)
        scheduled = self.active and self._next_mono is not None and self.frequency != "manual"
        return {
            "current_execution": current._to_json(now) if current else None,
            "last_execution": last._to_json(now) if last else None,
            "next_execution_time": rfc3339(self._fake._wall(self._next_mono))
            if scheduled and self._next_mono is not None
            else None,
        }
