"""The Home tab over Socket Mode: app_home_opened comes as an `events_api` envelope (the fake
socket's `send_events_api`), is acked over the socket and publishes the home; a redelivered
envelope (`retry_attempt` 1) and the messages tab are acked and change nothing. The bot is the
in-process one, connected with the handler `polytomic-bot socket` uses (bot/socket_mode.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.app import create_bolt_app
from bot.fakes.signing import app_home_opened
from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import DEFAULT_APP_TOKEN, FakeSocketMode
from bot.socket_mode import make_handler
from tests.scenario.inprocess import InProcessBot

ACK_DEADLINE = 3.0


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode(slack, DEFAULT_APP_TOKEN).start()
    yield fake
    fake.stop()
    assert not fake.problems, fake.problems


@pytest.fixture
def socket_bot(socket_mode: FakeSocketMode, start_bot: Any) -> Iterator[InProcessBot]:
    bot: InProcessBot = start_bot(SLACK_APP_TOKEN=DEFAULT_APP_TOKEN, SLACK_API_URL=socket_mode.api_url)
    handler = make_handler(create_bolt_app(bot.services), DEFAULT_APP_TOKEN, bot.services.slack.client)
    handler.connect()  # type: ignore[no-untyped-call]
    socket_mode.wait_connections(1, timeout=10)
    yield bot
    handler.close()  # type: ignore[no-untyped-call]


def test_app_home_opened_over_the_socket(
    socket_bot: InProcessBot, socket_mode: FakeSocketMode, slack: FakeSlack, polytomic: Any
) -> None:
    polytomic.add_sync(name="Orders").start_execution()
    event = app_home_opened(user_id="UADMIN", channel_id="D0ADMIN")
    envelope = socket_mode.send_events_api(event)
    assert socket_mode.wait_ack(envelope, ACK_DEADLINE).elapsed < ACK_DEADLINE
    socket_bot.wait_until(lambda: slack.home_view("UADMIN"), what="the home published")
    [call] = slack.calls("views.publish")
    assert call.params["user_id"] == "UADMIN"
    assert "Running syncs you may cancel" in str(slack.home_view("UADMIN"))

    # Slack redelivers an envelope it saw no ack for: retry_attempt 1, the same event.
    again = socket_mode.send_events_api(event, retry_attempt=1, retry_reason="timeout", envelope_id=envelope)
    assert socket_mode.wait_ack(again, ACK_DEADLINE)
    other_tab = socket_mode.send_events_api(app_home_opened(user_id="UADMIN", tab="messages"))
    assert socket_mode.wait_ack(other_tab, ACK_DEADLINE)
    socket_bot.services.responder.wait_idle()
    assert len(slack.calls("views.publish")) == 1
    registry = socket_bot.services.metrics.registry
    for outcome in ("taken", "retry", "other_tab"):  # the retry counted, and taken once
        assert registry.get_sample_value("polytomic_bot_home_events_total", {"outcome": outcome}) == 1
