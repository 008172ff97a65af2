"""What counts for alerts, pure: which runs a mode hears of, which open or close a failure
streak, and when failures are a flood.

    failures  sync.failed, sync.completed_with_errors      (a failure: opens or joins a streak)
    finished  ... and sync.completed                       (a success: closes a streak)
    all       ... and sync.canceled                        (neither opens nor closes a streak)

A success always closes an open streak, whatever the mode ("recovered after N failures"); in
`finished` and `all` a run that ends outside a streak is told as a one-off notice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

FAILED = frozenset({"sync.failed", "sync.completed_with_errors"})
SUCCEEDED = "sync.completed"
CANCELED = "sync.canceled"
TERMINAL = FAILED | {SUCCEEDED, CANCELED}
_RANK = {"failures": 0, "finished": 1, "all": 2}

FLOOD_SYNCS = 5  # syncs failing in one channel within FLOOD_WINDOW make a digest
FLOOD_WINDOW = 60.0  # seconds
DIGEST_QUIET = 600.0  # seconds without a new failure before a digest closes


@dataclass(frozen=True)
class RunEnded:
    """One terminal run, as an event said it."""

    type: str
    sync_id: str
    execution_id: str
    at: datetime | None
    error: str | None = None
    rows: int | None = None
    sync_name: str | None = None
    target_connection_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.type in FAILED


def widest(modes: Iterable[str]) -> str:
    """Overlapping subscriptions in one channel: the widest mode decides (one alert, not two)."""
    return max(modes, key=lambda mode: _RANK.get(mode, 0), default="failures")


def notice_due(mode: str, event_type: str) -> bool:
    """A run ending outside a streak is told on its own: completed in finished/all, canceled in all."""
    if event_type == SUCCEEDED:
        return _RANK.get(mode, 0) >= _RANK["finished"]
    if event_type == CANCELED:
        return mode == "all"
    return False


def flood(failing_syncs: int) -> bool:
    return failing_syncs >= FLOOD_SYNCS
