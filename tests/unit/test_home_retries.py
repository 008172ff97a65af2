"""Which app_home_opened deliveries are Slack's retries (bot/listeners/home.py `_retry`): the
header over HTTP, and Socket Mode's retry_attempt as Bolt copies it (0 on a first delivery)."""

from __future__ import annotations

import pytest
from slack_bolt import BoltRequest

from bot.listeners.home import _retry


@pytest.mark.parametrize(
    ("headers", "retry"),
    [
        ({}, False),
        ({"X-Slack-Retry-Num": "0"}, False),  # Socket Mode's first delivery
        ({"X-Slack-Retry-Num": "1"}, True),
        ({"x-slack-retry-num": "3", "x-slack-retry-reason": "http_timeout"}, True),
        ({"X-Slack-Retry-Num": "²"}, False),  # a digit to str.isdigit, not to int()
        ({"X-Slack-Retry-Num": "-1"}, False),
        ({"X-Slack-Retry-Num": "1" * 40}, False),
        ({"X-Slack-Retry-Num": ""}, False),
    ],
)
def test_which_deliveries_are_retries(headers: dict[str, str], retry: bool) -> None:
    assert _retry(BoltRequest(body="{}", headers=headers)) is retry
