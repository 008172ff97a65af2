"""The bot's Slack clients against a Slack that misbehaves on the wire (issue 12): a 302 is a
failure and the bot token never reaches the host it names; an answer dripped a byte at a time
ends at the deadline as SlackTimedOut; an absurd Retry-After is clamped. The clients are the ones
the bot builds (make_web_client, respond); the fake Slacks are real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import bot.slack
from bot.config import Mode, load_settings
from bot.fakes.slack import FakeSlack
from bot.slack import (
    MAX_SLACK_RETRY_AFTER,
    SlackFailure,
    SlackGateway,
    SlackTimedOut,
    Throttled,
    make_web_client,
    respond,
)
from bot.views.blocks import View

CHANNEL = "C0BOUNDS"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        slack.add_channel(CHANNEL, "bounds")
        yield slack
        assert slack.internal_errors == []


@pytest.fixture
def elsewhere() -> Iterator[FakeSlack]:
    """A second server that records whatever reaches it: where a redirect points."""
    with FakeSlack() as slack:
        yield slack


def gateway(fake: FakeSlack) -> SlackGateway:
    settings = load_settings(
        Mode.SERVE,
        {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
            "SLACK_API_URL": fake.api_url,
            "POLYTOMIC_API_KEY": "test-polytomic-key",
            "DATABASE_URL": "sqlite:///unused.db",
        },
    )
    return SlackGateway(make_web_client(settings), post_interval=0)


def view(text: str) -> View:
    return View(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def test_a_redirect_is_a_failure_and_the_token_stays_home(fake: FakeSlack, elsewhere: FakeSlack) -> None:
    fake.inject_redirect("chat.postMessage", elsewhere.api_url + "chat.postMessage")
    slack = gateway(fake)
    with pytest.raises(SlackFailure) as excinfo:
        slack.post_message(CHANNEL, view("status"))
    assert excinfo.value.error == "redirected"
    assert excinfo.value.transient  # tried again later, at the same, configured, URL
    assert elsewhere.requests == []  # no token, no body, and no ts came back from there
    assert fake.messages_in(CHANNEL) == []
    # Once Slack answers properly again, the post goes through, to Slack.
    ts = slack.post_message(CHANNEL, view("status"))
    assert [m.ts for m in fake.messages_in(CHANNEL)] == [ts]
    assert elsewhere.requests == []


class _Redirecting(BaseHTTPRequestHandler):
    location = ""

    def do_POST(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_response_url_that_redirects_is_not_followed(fake: FakeSlack, elsewhere: FakeSlack) -> None:
    handler = type("Redirecting", (_Redirecting,), {"location": elsewhere.response_url("stolen")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert respond(f"http://127.0.0.1:{server.server_port}/response/x", view("hello")) is False
    finally:
        server.shutdown()
        server.server_close()
    assert elsewhere.requests == []
    assert respond(fake.response_url("bounds"), view("hello")) is True


def test_a_dripped_answer_ends_at_the_deadline(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.slack, "SLACK_DEADLINE", 1.0)
    fake.set_drip("chat.postMessage", 0.1)  # each byte far inside the 10 s read timeout
    slack = gateway(fake)
    started = time.monotonic()
    with pytest.raises(SlackTimedOut) as excinfo:
        slack.post_message(CHANNEL, view("status"))
    elapsed = time.monotonic() - started
    assert excinfo.value.transient and excinfo.value.retry_after is None
    assert excinfo.value.error == "timeout"
    assert elapsed < 4, elapsed  # the drip alone would take over 30 s
    assert len(fake.calls("chat.postMessage")) == 1  # a stuck Slack is not asked again at once


def test_an_absurd_retry_after_is_clamped(fake: FakeSlack) -> None:
    fake.inject_rate_limit("chat.update", retry_after="1e300")
    slack = gateway(fake)
    with pytest.raises(Throttled) as excinfo:
        slack.update_message(CHANNEL, "1.0", view("status"))
    assert excinfo.value.retry_after <= MAX_SLACK_RETRY_AFTER
