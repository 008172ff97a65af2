"""Stored events → alert rows due. Events are hints: each terminal model-sync event that the
feed stored (webhook or poll, once by its key) is taken in here exactly once (bot/db/alerts.py
marks it in the same transaction that applies it), in every channel whose subscriptions cover
the sync. Overlapping subscriptions in one channel count once, with the widest mode.

A subscription `to <connection>` needs the sync's target connection: the event carries it; when
an event does not, the sync is read from Polytomic (before the transaction, never inside one),
and an event whose sync can't be read waits for the next look.

A look is one read of up to BATCH pending events and one read of the enabled subscriptions.
Every event no subscription covers (not a terminal model-sync event; or, with no subscription
at all, or none for its sync, none for every sync and none by connection, every event) is
marked in one conditional UPDATE, unparsed; only the events a subscription covers are parsed,
matched in memory, and taken in one by one, each in its own transaction (a race on a streak
rolls back that event alone). A subscription covers the events taken in after it is made.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from bot.alerts.rules import TERMINAL, RunEnded, widest
from bot.db import subscriptions
from bot.db.alert_intake import Pending
from bot.db.alerts import AlertStore
from bot.db.subscriptions import Cover
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
        batch = self.store.look(BATCH)
        if not batch:
            return 0
        covers = subscriptions.enabled_covers(self.store.db)
        everywhere = any(cover.scope_kind == "all" for cover in covers)
        by_connection = any(cover.scope_kind == "connection" for cover in covers)
        syncs = {cover.scope_id for cover in covers if cover.scope_kind == "sync"}
        unmatched: list[int] = []
        matched: list[tuple[Pending, RunEnded, dict[str, str]]] = []
        for pending in batch:
            covered = pending.type in TERMINAL and bool(pending.sync_id)
            if not (covered and (everywhere or by_connection or pending.sync_id in syncs)):
                unmatched.append(pending.id)
                continue
            run = run_of(pending)
            if run is None:
                unmatched.append(pending.id)
                continue
            if by_connection and not run.target_connection_id:
                try:
                    run = self._with_target(run)
                except PolytomicError as error:
                    log.warning("alerts: sync unreadable, event waits: %s", type(error).__name__)
                    continue
            channels = channels_for(covers, run)
            if channels:
                matched.append((pending, run, channels))
            else:
                unmatched.append(pending.id)
        self.store.mark(unmatched)
        applied = 0
        for pending, run, channels in matched:
            try:
                if self.store.take_in(pending.id, run, channels):
                    applied += 1
            except IntegrityError:
                # Another process opened the same streak at the same moment: next look joins it.
                log.info("alerts: a streak opened concurrently; the event is taken in again")
        return applied

    def _with_target(self, run: RunEnded) -> RunEnded:
        sync = self.polytomic.get_sync(run.sync_id)
        return RunEnded(**{**run.__dict__, "target_connection_id": sync.target_connection_id})


def channels_for(covers: list[Cover], run: RunEnded) -> dict[str, str]:
    """Channel → the widest mode of its enabled subscriptions that cover the run's sync."""
    modes: dict[str, list[str]] = {}
    target = run.target_connection_id
    for cover in covers:
        if (
            cover.scope_kind == "all"
            or (cover.scope_kind == "sync" and cover.scope_id == run.sync_id)
            or (cover.scope_kind == "connection" and target and cover.scope_id == target)
        ):
            modes.setdefault(cover.channel_id, []).append(cover.mode)
    return {channel: widest(found) for channel, found in modes.items()}
