"""bot.tracker.posts against the fake Slack over HTTP: one message kept in line with its view,
for any row, through the real gateway. The row here is a plain object with the fields a
`Message` names; `record` writes onto it, as the pass's conditional write does onto its row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.fakes.slack import FakeSlack
from bot.slack import SlackGateway
from bot.tracker import posts
from bot.tracker.outcome import DONE, Outcome
from bot.views.blocks import View

CHANNEL = "CGENERAL"
SUMMARY = posts.Message(
    ts="summary_ts",
    error="summary_error",
    digest="summary_digest",
    repost=True,
    gone=frozenset({"message_not_found"}),
)


class Row:
    """Any row: the fields of the messages under test, all unset."""

    def __init__(self) -> None:
        self.status_ts = self.status_error = self.status_progress_digest = None
        self.incident_ts = self.incident_error = self.incident_digest = None
        self.incident_final_ts = None
        self.summary_ts = self.summary_error = self.summary_digest = None
        self.recorded: list[dict[str, Any]] = []

    def record(self, **fields: Any) -> None:
        self.recorded.append(fields)
        for name, value in fields.items():
            setattr(self, name, value)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack
        assert slack.internal_errors == []


def gateway(fake: FakeSlack, post_interval: float = 0.0) -> SlackGateway:
    client = WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5)
    return SlackGateway(client, post_interval=post_interval)


def view(text: str) -> View:
    return View(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def keep(slack: SlackGateway, row: Row, message: posts.Message, shown: View, **kwargs: Any) -> Outcome:
    return posts.keep(
        slack, row, message, shown, channel=CHANNEL, record=row.record, holder="row-1", **kwargs
    )


def calls(fake: FakeSlack) -> list[str]:
    return [c.method for c in fake.requests if c.method.startswith("chat.")]


def test_posted_once_then_edited_only_when_the_view_changed(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    first = view("canceling…")
    assert keep(slack, row, SUMMARY, first, also={"summary_error": None}) is DONE
    assert row.summary_ts is not None and row.summary_digest == first.digest()
    assert keep(slack, row, SUMMARY, first) is DONE  # nothing changed: nothing sent
    assert calls(fake) == ["chat.postMessage"]
    second = view("canceled")
    assert keep(slack, row, SUMMARY, second) is DONE
    assert calls(fake) == ["chat.postMessage", "chat.update"]
    assert row.summary_digest == second.digest()
    assert fake.message(CHANNEL, row.summary_ts).text == "canceled"


def test_also_rides_with_the_post_and_with_each_edit(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    keep(slack, row, posts.STATUS, view("one"), also={"status_error": None, "incident_final_ts": "x"})
    assert row.recorded[-1] == {
        "status_ts": row.status_ts,
        "status_progress_digest": view("one").digest(),
        "status_error": None,
        "incident_final_ts": "x",
    }
    keep(slack, row, posts.STATUS, view("two"), also={"incident_final_ts": "y"})
    assert row.recorded[-1] == {"status_progress_digest": view("two").digest(), "incident_final_ts": "y"}


def test_a_deleted_status_message_is_posted_again(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    keep(slack, row, posts.STATUS, view("one"))
    old_ts = row.status_ts
    fake.inject_error("chat.update", "message_not_found")
    assert keep(slack, row, posts.STATUS, view("two")) is DONE
    assert calls(fake) == ["chat.postMessage", "chat.update", "chat.postMessage"]
    assert row.status_ts not in (None, old_ts) and row.status_progress_digest == view("two").digest()
    assert fake.message(CHANNEL, row.status_ts).text == "two"


@pytest.mark.parametrize("code", ["message_not_found", "cant_update_message", "edit_window_closed"])
def test_a_notice_that_cannot_be_edited_stays_as_posted(fake: FakeSlack, code: str) -> None:
    slack, row = gateway(fake), Row()
    keep(slack, row, posts.INCIDENT_NOTICE, view("notice"))
    ts = row.incident_ts
    fake.inject_error("chat.update", code)
    assert keep(slack, row, posts.INCIDENT_NOTICE, view("notice, named")) is DONE
    assert calls(fake) == ["chat.postMessage", "chat.update"]
    # Not tried again: the digest says it is as good as it gets.
    assert row.incident_ts == ts and row.incident_digest == view("notice, named").digest()
    assert keep(slack, row, posts.INCIDENT_NOTICE, view("notice, named")) is DONE
    assert len(calls(fake)) == 2


def test_a_permanent_error_is_recorded_and_nothing_more_is_tried(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    fake.inject_error("chat.postMessage", "not_in_channel", channel=CHANNEL)
    assert keep(slack, row, posts.STATUS, view("one")) is DONE
    assert row.status_error == "not_in_channel" and row.status_ts is None
    assert keep(slack, row, posts.STATUS, view("two")) is DONE
    assert calls(fake) == ["chat.postMessage"]


def test_a_permanent_error_on_an_edit_is_recorded(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    keep(slack, row, posts.STATUS, view("one"))
    fake.inject_error("chat.update", "is_archived")
    assert keep(slack, row, posts.STATUS, view("two")) is DONE
    assert row.status_error == "is_archived"


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update"])
def test_a_transient_failure_is_a_failed_outcome_and_records_nothing(fake: FakeSlack, method: str) -> None:
    slack, row = gateway(fake), Row()
    if method == "chat.update":
        keep(slack, row, posts.STATUS, view("one"))
    before = list(row.recorded)
    fake.inject_error(method, "internal_error")
    outcome = keep(slack, row, posts.STATUS, view("two"))
    assert outcome.failed and outcome.error == f"Slack {method}: internal_error" and outcome.delay is None
    assert row.recorded == before


def test_a_rate_limit_is_a_time_to_come_back(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    fake.inject_rate_limit("chat.postMessage", retry_after=3)
    outcome = keep(slack, row, posts.STATUS, view("one"))
    assert not outcome.final and not outcome.failed
    assert outcome.delay is not None and 2.0 <= outcome.delay <= 3.0
    assert row.recorded == []


def test_a_thread_reply_is_posted_once_in_its_thread(fake: FakeSlack) -> None:
    slack, row = gateway(fake), Row()
    keep(slack, row, posts.INCIDENT_NOTICE, view("notice"))
    assert keep(slack, row, posts.INCIDENT_OUTCOME, view("canceled"), thread_ts=row.incident_ts) is DONE
    assert keep(slack, row, posts.INCIDENT_OUTCOME, view("something else"), thread_ts=row.incident_ts) is DONE
    [reply] = fake.thread(CHANNEL, row.incident_ts)
    assert reply.ts == row.incident_final_ts and reply.text == "canceled"
    assert calls(fake) == ["chat.postMessage", "chat.postMessage"]
