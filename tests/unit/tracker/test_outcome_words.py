"""bot.tracker.outcome keeps words a database can store: whatever a remote (or a proxy in front
of it) put in an error, the words kept on the row have no NUL or other control character."""

from __future__ import annotations

import pytest

from bot.polytomic import BadRequest, ServerError
from bot.slack import SlackFailure
from bot.tracker.outcome import Doing, RemoteError, from_error

NASTY = "\x00\x1b\x7f\udfff"


@pytest.mark.parametrize(
    "error",
    [
        SlackFailure("chat.postMessage", f"channel{NASTY}_not_found"),
        SlackFailure("chat.postMessage", f"internal{NASTY}_error"),
        ServerError(f"bad{NASTY} gateway", status=502),
        BadRequest(f"no{NASTY}", status=400),
    ],
)
@pytest.mark.parametrize("doing", list(Doing))
def test_the_words_of_an_outcome_can_be_stored(error: RemoteError, doing: Doing) -> None:
    outcome = from_error(error, doing)
    if outcome.error is not None:
        assert not set(outcome.error) & set(NASTY), repr(outcome.error)
        outcome.error.encode("utf-8")
