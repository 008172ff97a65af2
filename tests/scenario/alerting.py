"""Helpers of the alerts' scenario tests: hear Polytomic's events as the poller would (the same
feed, the same store), make runs fail in the fake, read the alerts Slack shows."""

from __future__ import annotations

from typing import Any

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.fakes.slack.records import Message
from bot.feed import EventPoller
from tests.harness import SlackUser, all_text, answer_to, button
from tests.scenario.inprocess import InProcessBot


def hear(bot: InProcessBot) -> int:
    """One poll of GET /api/events through the bot's feed (what the poller does every
    POLYTOMIC_EVENTS_INTERVAL), then one step: the alerts' intake and passes run."""
    assert bot.services.events is not None and bot.services.feed is not None
    poller = EventPoller(
        bot.services.events,
        bot.services.feed,
        bot.services.polytomic,
        interval=1.0,
        owner="scenario-poller",
        lease_ttl=5.0,
        clock=bot.clock,
    )
    new = poller.poll_once() or 0
    bot.step()
    bot.step()
    return new


def fail(polytomic: FakePolytomic, sync_id: str, error: str = "Destination refused the batch") -> str:
    """A run of the sync that fails now, with Polytomic's error; its execution ID."""
    sync = polytomic.sync(sync_id)
    execution = sync.start_execution(cancel_delay=None)
    sync.finish_current("failed", errors=[error])
    return str(execution.id)


def succeed(polytomic: FakePolytomic, sync_id: str) -> str:
    sync = polytomic.sync(sync_id)
    execution = sync.start_execution(cancel_delay=None)
    sync.finish_current("completed")
    return str(execution.id)


def top_level(slack: FakeSlack, channel: str) -> list[Message]:
    return [m for m in slack.messages_in(channel) if not m.is_reply]


def alerts_in(slack: FakeSlack, channel: str) -> list[Message]:
    """The bot's alert messages in a channel (not the "subscribed" notes, not replies)."""
    return [m for m in top_level(slack, channel) if "subscribed this channel" not in (m.text or "")]


def replies_to(slack: FakeSlack, message: Message) -> list[Message]:
    return slack.thread(message.channel, message.ts)


def subscribe(user: SlackUser, text: str) -> str:
    return answer_to(user, f"subscribe {text}")


def element(message: Message, action_id: str) -> dict[str, Any]:
    return button(message.latest, action_id)


def text_of(message: Message) -> str:
    return all_text(message.latest)
