"""bot.views.notes: the words the tracker keeps on a row, word for word as it wrote them before
they moved here, and how the views show them (sources as rendered, plain words escaped)."""

from __future__ import annotations

import pytest

from bot.operations import State
from bot.permissions import Decision
from bot.polytomic import (
    Conflict,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from bot.views import notes, replies, status
from tests.unit.views.cases import EVIL, NOW, REQUESTER, SYNC_ID, ended, make_op


@pytest.mark.parametrize(
    ("error", "doing", "expected"),
    [
        (
            Unauthorized("bad key", status=401),
            "cancel",
            "Polytomic rejected the bot's API key (401): fix the POLYTOMIC_API_KEY setting.",
        ),
        (
            Forbidden("no", status=403),
            "cancel",
            "The bot's Polytomic key may not cancel this sync (403): give POLYTOMIC_API_KEY more rights.",
        ),
        (
            Forbidden("no", status=403),
            "pause",
            "The bot's Polytomic key may not pause this sync (403): give POLYTOMIC_API_KEY more rights.",
        ),
        (NotFound("gone", status=404), "cancel", "Polytomic no longer knows this sync or run (404)."),
        (Conflict("busy", status=409), "cancel", "Polytomic refused to cancel (409): busy"),
        (PolytomicError("teapot", status=418), "pause", "Polytomic refused to pause (418): teapot"),
    ],
)
def test_polytomic_refusal_names_the_setting_when_it_is_the_key(
    error: PolytomicError, doing: str, expected: str
) -> None:
    assert notes.polytomic_refusal(error, doing) == expected


def test_the_transient_notes() -> None:
    assert notes.polytomic_unreachable() == "Polytomic unreachable"
    assert notes.polytomic_unreachable(Unavailable("503 Service Unavailable", status=503)) == (
        "Polytomic unreachable: 503 Service Unavailable"
    )
    assert notes.polytomic_rate_limited(RateLimited("slow down")) == "Polytomic rate limit: slow down"
    assert notes.slack_rate_limited("usergroups.users.list", 3.4) == (
        "Slack rate-limited usergroups.users.list for 3 s"
    )
    assert notes.groups_unchecked("ratelimited") == "could not check Slack user groups: ratelimited"
    assert (
        notes.slack_failed("chat.postMessage", "internal_error") == "Slack chat.postMessage: internal_error"
    )
    assert notes.step_failed(KeyError("secret-looking text")) == "KeyError"


def test_a_duplicate_without_a_winner_says_someone_else() -> None:
    assert notes.already_requested_note(None) == "Someone else is canceling this run."
    kept = make_op(state=State.DUPLICATE.value, last_error=notes.already_requested_note(None))
    assert replies.released(kept).text == "Someone else is canceling this run."
    winner = notes.already_requested_note(make_op(sync_name="Orders"))
    assert f"<@{REQUESTER}>" in winner and "Orders" in winner


def test_plain_notes_are_escaped_where_they_are_shown() -> None:
    """Polytomic's message is quoted in a note: the status message and the reply escape it."""
    note = notes.polytomic_unreachable(Unavailable(EVIL, status=503))
    waiting = status.status_message(make_op(last_error=note), NOW)
    assert "<!channel>" not in waiting.text and "&lt;!channel&gt;" in waiting.text
    refused = notes.polytomic_refusal(PolytomicError(EVIL, status=418))
    rejected = make_op(state=State.REJECTED.value, last_error=refused)
    for view in (replies.released(rejected), status.status_message(rejected, NOW)):
        assert "<!channel>" not in view.text and "&lt;!channel&gt;" in view.text


def test_source_notes_are_shown_as_rendered() -> None:
    decision = Decision(False, "U9", "cancel", SYNC_ID, "no grant")
    assert notes.denied_note(decision).startswith("You don't have permission to cancel here")
    stale = notes.stale_note(make_op(sync_name="Orders"), ended("completed"), False)
    kept = make_op(state=State.STALE.value, last_error=stale)
    assert "*completed*" in replies.released(kept).blocks[0]["text"]["text"]
