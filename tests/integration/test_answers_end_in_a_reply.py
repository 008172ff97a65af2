"""Every answer ends in a reply (issue 12): an answer that fails on its way, after the ack, tells
its requester through their response_url what kind of failure it was, and claims nothing about
what changed. The responder is the bot's own; the response_url is the fake Slack's, over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import OperationalError

from bot.answers.requester import Requester
from bot.db.bounds import OutcomeUnknown
from bot.fakes.slack import FakeSlack
from bot.responder import Responder
from tests.harness import all_text, wait_until


def fails_with(error: Exception) -> Callable[[Requester], None]:
    def answer(req: Requester) -> None:
        raise error

    return answer


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OperationalError("SELECT 1", None, TimeoutError("silent")), "couldn't reach the database"),
        (OutcomeUnknown("no answer to COMMIT"), "can't tell whether that was recorded"),
        (RuntimeError("a bug"), "Something went wrong on my side"),
    ],
)
def test_an_answer_that_fails_still_replies(slack: FakeSlack, error: Exception, said: str) -> None:
    url = slack.response_url("failing")
    responder = Responder(1)
    try:
        responder.submit(fails_with(error), Requester("U1", "C1", url)).result(timeout=20)
    finally:
        responder.shutdown()
    wait_until(lambda: slack.responses(url), 10, what="the reply")
    [reply] = slack.responses(url)
    text = all_text(reply)
    assert said in text, text
    assert "nothing was changed" not in text.lower()
