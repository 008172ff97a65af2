"""bot.tracker.outcome: every remote error becomes an outcome in one place, and the words each
call keeps on the row are the ones the status message and the replies have always shown."""

from __future__ import annotations

import dataclasses

import pytest

from bot.polytomic import (
    BadRequest,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    ServerError,
    TimedOut,
    Unauthorized,
)
from bot.slack import SlackFailure, Throttled
from bot.tracker.outcome import DONE, Doing, Outcome, RemoteError, again, failed, from_error, refused

LIMITED = RateLimited("slow down", retry_after=7.0)
DOWN = ServerError("bad gateway", status=502)
BUSY = ServerError("try later", status=503, retry_after=12.0)
TIMED_OUT = TimedOut("Polytomic did not answer within 5s (ReadTimeout)", reason="ReadTimeout")
REFUSED = ConnectionFailed("could not reach Polytomic (ConnectError)", reason="ConnectError")
GONE = NotFound("no such execution", status=404)
WRONG_KEY = Unauthorized("bad key", status=401)
NO_RIGHTS = Forbidden("not allowed", status=403)
CONFLICT_LIKE = BadRequest("already done", status=422)


def test_outcomes_are_immutable_and_say_whether_they_failed() -> None:
    assert DONE.final and not DONE.failed and DONE.delay is None
    assert again(3.0) == Outcome(final=False, delay=3.0) and not again(3.0).failed
    assert failed("words", 2.0).failed and failed("words").delay is None
    assert refused("no").final and not refused("no").failed
    with pytest.raises(dataclasses.FrozenInstanceError):
        DONE.final = False  # type: ignore[misc]


@pytest.mark.parametrize("doing", [Doing.CHECK, Doing.CANCEL, Doing.PAUSE])
@pytest.mark.parametrize("error", [LIMITED, DOWN, BUSY, TIMED_OUT, REFUSED])
def test_a_transient_polytomic_error_fails_with_its_retry_after(doing: Doing, error: RemoteError) -> None:
    outcome = from_error(error, doing)
    assert outcome.failed and outcome.exception is error
    assert outcome.delay == error.retry_after
    assert outcome.error == f"Polytomic unreachable: {error.message}"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (LIMITED, "Polytomic rate limit: slow down"),
        (DOWN, "Polytomic unreachable"),
        (TIMED_OUT, "Polytomic unreachable"),
        (GONE, "Polytomic no longer knows this sync or run (404)."),
        (WRONG_KEY, "Polytomic rejected the bot's API key (401): fix the POLYTOMIC_API_KEY setting."),
        (CONFLICT_LIKE, "Polytomic refused to cancel (422): already done"),
    ],
)
def test_a_poll_is_tried_again_whatever_polytomic_said(error: PolytomicError, words: str) -> None:
    outcome = from_error(error, Doing.POLL)
    assert outcome.failed and outcome.error == words
    assert outcome.delay == error.retry_after


@pytest.mark.parametrize("doing", [Doing.CHECK, Doing.CANCEL, Doing.NAME])
@pytest.mark.parametrize("error", [GONE, WRONG_KEY, NO_RIGHTS, CONFLICT_LIKE, PolytomicError("not JSON")])
def test_a_permanent_polytomic_error_is_refused_for_the_step_to_decide(
    doing: Doing, error: PolytomicError
) -> None:
    outcome = from_error(error, doing)
    assert outcome.final and not outcome.failed and outcome.delay is None and outcome.exception is error
    assert outcome.error is not None and "Polytomic" in outcome.error


def test_a_refused_pause_says_pause() -> None:
    assert from_error(NO_RIGHTS, Doing.PAUSE).error == (
        "The bot's Polytomic key may not pause this sync (403): give POLYTOMIC_API_KEY more rights."
    )
    assert "may not cancel" in (from_error(NO_RIGHTS, Doing.CANCEL).error or "")


def test_a_slack_throttle_on_a_post_is_a_time_to_come_back_not_a_failure() -> None:
    assert from_error(Throttled("chat.postMessage", 2.2), Doing.POST) == again(2.2)


def test_slack_failures_on_a_post() -> None:
    transient = from_error(SlackFailure("chat.update", "internal_error"), Doing.POST)
    assert (
        transient.failed
        and transient.error == "Slack chat.update: internal_error"
        and transient.delay is None
    )
    permanent = from_error(SlackFailure("chat.postMessage", "not_in_channel"), Doing.POST)
    assert permanent.final and permanent.error == "not_in_channel"  # Slack's code, kept on the row


def test_the_group_look_up_is_tried_again_whatever_slack_said() -> None:
    throttled = from_error(Throttled("usergroups.users.list", 20.0), Doing.GROUPS)
    assert throttled.failed and throttled.delay == 20.0
    assert throttled.error == "Slack rate-limited usergroups.users.list for 20 s"
    for code in ("missing_scope", "channel_not_found"):
        outcome = from_error(SlackFailure("usergroups.users.list", code), Doing.GROUPS)
        assert outcome.failed and outcome.error == f"could not check Slack user groups: {code}"
