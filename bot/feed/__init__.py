"""Hearing Polytomic: its events, by webhook (`receiver`) and by polling (`poller`), both through
`ingest`, which stores each event once and leaves it as a hint for the tracker.

Events are hints: an event for a tracked execution makes its operation due now (a database
write every process's tracker sees, and a nudge of this process's), and a terminal one is taken
by the next pass as the run's end (bot/tracker/steps.py). Without events, the tracker polls as
it always did.
"""

from bot.feed.ingest import Feed
from bot.feed.poller import EventPoller
from bot.feed.receiver import WebhookReceiver

__all__ = ["EventPoller", "Feed", "WebhookReceiver"]
