"""Slack's errors: one base to catch, and `transient` / `retry_after` read the same way as on
Polytomic's errors, so one place can turn either into a decision (bot.tracker.outcome)."""

from __future__ import annotations

import pytest

from bot.polytomic import NotFound, RateLimited, ServerError
from bot.slack import PERMANENT_CHANNEL_ERRORS, SlackError, SlackFailure, Throttled


def test_throttled_and_failures_are_slack_errors() -> None:
    for error in (Throttled("chat.update", 3.0), SlackFailure("chat.postMessage", "not_in_channel")):
        with pytest.raises(SlackError):
            raise error
        assert error.method in ("chat.update", "chat.postMessage")


def test_a_throttle_is_transient_and_says_when() -> None:
    throttled = Throttled("chat.postMessage", 2.5)
    assert throttled.transient is True
    assert throttled.retry_after == 2.5
    assert "chat.postMessage" in str(throttled)


@pytest.mark.parametrize("code", sorted(PERMANENT_CHANNEL_ERRORS))
def test_a_channel_that_cannot_be_used_is_permanent(code: str) -> None:
    failure = SlackFailure("chat.postMessage", code)
    assert failure.permanent is True
    assert failure.transient is False
    assert failure.retry_after is None


@pytest.mark.parametrize("code", ["internal_error", "connection_error: ConnectError", "ratelimited"])
def test_other_failures_are_transient_without_a_hint(code: str) -> None:
    failure = SlackFailure("usergroups.users.list", code)
    assert failure.transient is True and failure.permanent is False
    assert failure.retry_after is None
    assert failure.error == code


def test_transient_reads_the_same_on_both_remotes() -> None:
    """The attributes one decision reads, on an error of each kind from each remote."""
    cases = [
        (Throttled("chat.update", 4.0), True, 4.0),
        (SlackFailure("chat.update", "fatal_error"), True, None),
        (SlackFailure("chat.update", "channel_not_found"), False, None),
        (RateLimited("slow down", retry_after=7.0), True, 7.0),
        (ServerError("bad gateway", status=502), True, None),
        (NotFound("no such sync", status=404), False, None),
    ]
    for error, transient, retry_after in cases:
        assert (error.transient, error.retry_after) == (transient, retry_after), error
