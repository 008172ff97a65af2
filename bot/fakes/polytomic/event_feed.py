"""The fake Polytomic's events as tests see and make them: how GET /api/events sorts and how
long events are kept, every kept event, `emit_event` for any type and payload, and
`wait_for_event`; and the one path every event takes, `_emit`: stamped in order, kept in the
log (events.py), and handed to the webhook's deliverer (webhooks.py) when one is registered.
A run's state change reaches it through `_announce`, which executions.py calls.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.fakes.polytomic.events import model_sync_payload, new_event
from bot.fakes.polytomic.state import PolytomicState

if TYPE_CHECKING:
    from bot.fakes.polytomic.executions import FakeExecution

__all__ = ["EventFeed"]


class EventFeed(PolytomicState):
    """The event log's knobs, and emitting events (FakePolytomic's event methods)."""

    @property
    def event_retention(self) -> float:
        return self._events.retention

    @event_retention.setter
    def event_retention(self, seconds: float) -> None:
        with self._lock:
            self._events.retention = seconds
            self._events.prune(time.time())

    @property
    def max_events(self) -> int:
        return self._events.max_events

    @max_events.setter
    def max_events(self, count: int) -> None:
        with self._lock:
            self._events.max_events = count
            self._events.prune(time.time())

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event kept, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._events.all())

    def events_for(self, execution_id: str | None = None, *, type: str | None = None) -> list[dict[str, Any]]:
        """The kept events of one run and/or one type, oldest first (copies)."""
        return [
            e
            for e in self.events
            if (execution_id is None or e["event"].get("execution_id") == execution_id)
            and (type is None or e["type"] == type)
        ]

    def emit_event(self, type: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record (and deliver, when a webhook is registered) an event of any type with any
        payload: bulk-sync events, a type Polytomic may add, a payload missing fields. Runs
        of model syncs emit theirs on their own."""
        with self._lock:
            return copy.deepcopy(self._emit(type, dict(payload or {}), time.monotonic()))

    def wait_for_event(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first kept event for which predicate(event) is true; TimeoutError else."""
        with self._cond:
            found: list[dict[str, Any]] = []

            def seen() -> bool:
                found[:] = [e for e in self._events.all() if predicate(e)]
                return bool(found)

            if not self._cond.wait_for(seen, timeout):
                raise TimeoutError(f"no matching event within {timeout}s")
            return copy.deepcopy(found[0])

    def _announce(self, execution: FakeExecution, type_: str | None, now: float) -> None:
        """A run changed state (executions.py calls this, lock held): emit its event."""
        if type_ is None:
            return
        sync = execution.sync
        payload = model_sync_payload(
            type_,
            organization_id=self.organization_id,
            sync_id=sync.id,
            sync_name=sync.name,
            target_connection_id=sync.target_connection_id,
            frequency=sync.frequency,
            execution=execution._to_json(now),
        )
        self._emit(type_, payload, now)

    def _emit(self, type_: str, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # Stamped as it is emitted, never before the previous one: the log stays in order.
        now = max(now, self._last_emit)
        self._last_emit = now
        wall = self._wall(now)
        event = new_event(type_, payload, organization_id=self.organization_id, wall=wall)
        self._events.append(event, wall)
        hook = self._webhook
        if hook is not None and not hook.disabled:
            self._deliverer.submit(event, hook.endpoint, hook.secret, self.signature_encoding)
        self._cond.notify_all()
        return event
