"""bot.tracker.posts against the fake Slack: which record an effect goes through. A post's ts
goes through `record` (the pass writes it before its next remote call: a post sent again is a
second message); a successful edit's digest through `record_edit` when one is given (the pass
writes it with its next save, release or finish: an edit sent again changes nothing); `flush`
comes before every Slack call either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.fakes.slack import FakeSlack
from bot.slack import SlackGateway
from bot.tracker import posts
from bot.tracker.outcome import DONE
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
    def __init__(self) -> None:
        self.summary_ts = self.summary_error = self.summary_digest = None
        self.log: list[tuple[str, dict[str, Any]]] = []

    def _set(self, how: str, fields: dict[str, Any]) -> None:
        self.log.append((how, fields))
        for name, value in fields.items():
            setattr(self, name, value)

    def record(self, **fields: Any) -> None:
        self._set("record", fields)

    def record_edit(self, **fields: Any) -> None:
        self._set("record_edit", fields)

    def flush(self) -> None:
        self.log.append(("flush", {}))


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack
        assert slack.internal_errors == []


def view(text: str) -> View:
    return View(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def keep(slack: SlackGateway, row: Row, shown: View) -> object:
    return posts.keep(
        slack,
        row,
        SUMMARY,
        shown,
        channel=CHANNEL,
        record=row.record,
        flush=row.flush,
        record_edit=row.record_edit,
        holder="row-1",
    )


def test_a_post_is_recorded_by_record_and_an_edit_by_record_edit(fake: FakeSlack) -> None:
    slack = SlackGateway(WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5), post_interval=0)
    row = Row()
    first, second = view("canceling…"), view("canceled")
    assert keep(slack, row, first) is DONE
    ts = row.summary_ts
    assert row.log == [("flush", {}), ("record", {"summary_ts": ts, "summary_digest": first.digest()})]
    row.log.clear()
    assert keep(slack, row, second) is DONE
    assert row.log == [("flush", {}), ("record_edit", {"summary_digest": second.digest()})]
    assert [c.method for c in fake.requests if c.method.startswith("chat.")] == [
        "chat.postMessage",
        "chat.update",
    ]


def test_a_message_deleted_meanwhile_is_reposted_and_its_ts_goes_through_record(fake: FakeSlack) -> None:
    slack = SlackGateway(WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5), post_interval=0)
    row = Row()
    assert keep(slack, row, view("canceling…")) is DONE
    assert row.summary_ts is not None
    fake.inject_error("chat.update", "message_not_found")
    row.log.clear()
    again = view("canceled")
    assert keep(slack, row, again) is DONE
    hows = [how for how, _ in row.log]
    assert "record_edit" not in hows
    assert hows[-2:] == ["flush", "record"] and row.log[-1][1]["summary_digest"] == again.digest()
