"""Stored events → alert rows due. Events are hints: each terminal model-sync event that the
feed stored (webhook or poll, once by its key) is taken in here exactly once (bot/db/alerts.py
marks it in the same transaction that applies it), in every channel whose subscriptions cover
the sync. Overlapping subscriptions in one channel count once, with the widest mode.

A subscription `to <connection>` needs the sync's target connection: the event carries it; when
an event does not, the sync is read from Polytomic (before the transaction, never inside one),
and an event whose sync can't be read waits for the next look.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from bot.alerts.rules import TERMINAL, RunEnded, widest
from bot.db import subscriptions
from bot.db.alert_intake import Pending
from bot.db.alerts import AlertStore
from bot.polytomic import PolytomicClient, PolytomicError
from bot.polytomic.events import parse_event

log = logging.getLogger("bot.alerts")

BATCH = 100  # events taken in per look


def run_of(pending: Pending) -> RunEnded | None:
    """The run an event says ended, or None when it is not one alerts act on."""
    try:
        event = parse_event(pending.payload)
    except (ValueError, TypeError):
        return None
    if event.type not in TERMINAL or event.sync is None or not event.sync_id or not event.execution_id:
        return None
    return RunEnded(
        type=event.type,
        sync_id=str(event.sync_id)[:64],
        execution_id=str(event.execution_id)[:64],
        at=event.created_at,
        error=event.sync.error,
        rows=event.sync.rows_written,
        sync_name=event.sync.sync_name,
        target_connection_id=event.sync.target_connection_id,
    )


class Intake:
    def __init__(self, store: AlertStore, polytomic: PolytomicClient) -> None:
        self.store = store
        self.polytomic = polytomic

    def run_once(self) -> int:
        """Take in what is pending; returns how many events changed alert rows."""
        applied = 0
        for pending in self.store.pending(BATCH):
            run = run_of(pending)
            channels: dict[str, str] = {}
            if run is not None:
                try:
                    run = self._with_target(run)
                except PolytomicError as error:
                    log.warning("alerts: sync unreadable, event waits: %s", type(error).__name__)
                    continue
                modes: dict[str, list[str]] = {}
                for sub in subscriptions.matching(self.store.db, run.sync_id, run.target_connection_id):
                    modes.setdefault(sub.channel_id, []).append(sub.mode)
                channels = {channel: widest(found) for channel, found in modes.items()}
            try:
                if self.store.take_in(pending.id, run, channels) and channels:
                    applied += 1
            except IntegrityError:
                # Another process opened the same streak at the same moment: next look joins it.
                log.info("alerts: a streak opened concurrently; the event is taken in again")
        return applied

    def _with_target(self, run: RunEnded) -> RunEnded:
        if run.target_connection_id or not subscriptions.any_by_connection(self.store.db):
            return run
        sync = self.polytomic.get_sync(run.sync_id)
        return RunEnded(**{**run.__dict__, "target_connection_id": sync.target_connection_id})
