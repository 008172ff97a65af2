"""Where every Polytomic event goes, whichever way it came: `Feed.take` stores a batch once
(bot/db/events.py: deduplicated by event id, hints left on the operations it concerns), counts
it, keeps the sync names it carries, and nudges this process's tracker when an operation fell
due. No remote call is made here, so the webhook's answer never waits on one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from bot.alerts.rules import TERMINAL
from bot.db.events import EventStore, Incoming, Source, Taken
from bot.metrics import Metrics
from bot.names import SyncNames

log = logging.getLogger("bot.feed")


class Feed:
    def __init__(
        self,
        store: EventStore,
        metrics: Metrics,
        *,
        nudge: Callable[[], None] | None = None,
        names: SyncNames | None = None,
        on_new: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.nudge = nudge
        self.names = names
        self.on_new = on_new  # new events were stored: the alerts' intake looks now

    def take(self, incoming: Sequence[Incoming], source: Source) -> Taken:
        taken = self.store.take(incoming, source)
        for event in taken.new:
            self.metrics.event_received(source, event.type)
            if self.names is not None and event.sync_id and event.sync_name is not None:
                self.names.put(event.sync_id, event.sync_name)
        duplicates = taken.duplicates if source == "webhook" else taken.cross_duplicates
        if duplicates:
            self.metrics.event_duplicates.labels(source=source).inc(duplicates)
        if self.on_new is not None and any(event.type in TERMINAL for event in taken.new):
            self.on_new()  # only an event alerts take in (the others are stored as taken)
        if taken.hinted:
            # A poll's batch at info; a webhook's (one event a delivery) at debug, as its line.
            log.log(
                logging.DEBUG if source == "webhook" else logging.INFO,
                "events made operations due",
                extra={"source": source, "events": len(taken.new), "operations": taken.hinted},
            )
            if self.nudge is not None:
                self.nudge()
        return taken
