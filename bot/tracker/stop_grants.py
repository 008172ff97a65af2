"""The grants a stop's operations are re-authorized from at confirm: one read for many of them.

Each operation of a stop is decided again when the tracker takes it up (bot/tracker/steps.py
`authorize_and_verify`), as a single cancel is. Reading the grants once per operation cost a
stop of 1,000 syncs 1,000 reads of the same rows; here the grants are read once (a
`bot.permissions.Snapshot`, every grant of the actions asked) and each operation is decided from
that read, in memory, by the same rules. A stop's read is taken by the pass of one of its
operations, so after the confirm (a re-check, never the prompt's decision), and it decides for
at most FRESH_FOR seconds: a grant revoked during a stop denies the operations taken up after.
Operations that are not in a stop are decided by the authorizer, one read each, as before.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.db.models import Operation
from bot.permissions import Authorizer, Decision, Snapshot

FRESH_FOR = 1.0  # seconds a stop's grants read decides its operations for
ACTIONS = ("cancel", "pause")  # what a stop's operations are decided on (cancel-and-pause: both)


class StopGrants:
    def __init__(self, authorizer: Authorizer, clock: Clock) -> None:
        self.authorizer = authorizer
        self.clock = clock
        self._lock = threading.Lock()
        self._reads: dict[int, tuple[datetime, Snapshot]] = {}  # by stop ID: when read, what

    def may(self, op: Operation, action: str) -> Decision:
        if op.stop_id is None or action not in ACTIONS:
            return self.authorizer.may(op.requested_by, action, op.sync_id)
        return self._snapshot(op.stop_id).may(op.requested_by, action, op.sync_id)

    def _snapshot(self, stop_id: int) -> Snapshot:
        now = self.clock.now()
        with self._lock:
            kept = self._reads.get(stop_id)
        if kept is not None:
            read_at, snapshot = kept
            if timedelta(0) <= now - read_at <= timedelta(seconds=FRESH_FOR):
                return snapshot
        snapshot = self.authorizer.snapshot(ACTIONS)  # read outside the lock: no wait on the database
        with self._lock:
            # Old stops' reads are dropped as new ones come: this holds a few at most.
            self._reads = {k: v for k, v in self._reads.items() if now - v[0] <= timedelta(seconds=FRESH_FOR)}
            self._reads[stop_id] = (now, snapshot)
        return snapshot
