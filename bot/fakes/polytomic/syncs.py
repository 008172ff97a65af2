"""The fake Polytomic's model syncs: what GET /api/syncs and /api/syncs/{id}(/status) answer
about one, pausing and resuming it, its schedule, and the runs it starts (their lifecycle is
executions.py).

Like Polytomic, a sync has at most one active run at a time. It may run on a schedule
(`schedule_runs`), which pausing suspends; the server's clock starts each scheduled run when it
comes due, even when nobody asks. `START_DEFAULTS` are the options of a run started through the
API or a schedule, unless the sync says otherwise.

Everything here runs under the server's lock (`fake._lock`); the public properties and
methods take it themselves.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from bot.fakes.polytomic.common import TERMINAL_STATUSES, rfc3339
from bot.fakes.polytomic.executions import FakeExecution

if TYPE_CHECKING:
    from bot.fakes.polytomic.server import FakePolytomic

__all__ = ["START_DEFAULTS", "FakeSync"]


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
        cap = self._fake.max_executions
        if cap is not None and len(self.executions) > cap:  # the oldest finished runs go
            finished = [e for e in self.executions if not e._is_active(now)]
            gone = {id(e) for e in finished[: len(self.executions) - cap]}
            self.executions = [e for e in self.executions if id(e) not in gone]
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
