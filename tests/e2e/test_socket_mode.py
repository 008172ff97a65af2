"""`polytomic-bot socket` end to end: the real process, slack_sdk's built-in Socket Mode client
against a real WebSocket server (bot/fakes/socket_mode.py), the fake Slack Web API and
response_url sink behind it, the fake Polytomic, a real SQLite database. No signing secret."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from tests.harness import CHANNEL, INCIDENTS, BotProcess, all_text, button, status_messages, wait_until

APP_TOKEN = "xapp-1-test"
ACK_DEADLINE = 3.0  # Slack's, for an envelope ack over the socket as for an HTTP answer


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode(slack, APP_TOKEN).start()
    yield fake
    fake.stop()
    assert not fake.problems, fake.problems


@pytest.fixture
def socket_bot(socket_mode: FakeSocketMode, start_bot: Any) -> BotProcess:
    """`polytomic-bot socket`, connected. Requested after socket_mode, so it stops first."""
    bot: BotProcess = start_bot(
        "socket",
        SLACK_SIGNING_SECRET=None,  # Socket Mode must not need it
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=socket_mode.api_url,
        INCIDENT_CHANNEL=INCIDENTS,
    )

    def connected() -> bool:
        assert bot.proc is not None
        if bot.proc.poll() is not None:
            raise RuntimeError(f"bot exited with {bot.proc.returncode}:\n{bot.logs()[-3000:]}")
        return "socket mode connected" in bot.logs()

    wait_until(connected, 20, 0.05, "the log to say 'socket mode connected'")
    [connection] = socket_mode.wait_connections(1, timeout=5)
    assert connection.open
    [call] = socket_mode.open_calls
    assert call.ok and call.token == APP_TOKEN
    return bot


def help_ack(socket_mode: FakeSocketMode, slack: FakeSlack, timeout: float = ACK_DEADLINE) -> Any:
    """An unknown subcommand: its usage answer travels in the ack itself."""
    envelope = socket_mode.send_slash_command(
        "frobnicate", user_id="UNOBODY", channel_id=CHANNEL, response_url=slack.response_url("usage")
    )
    ack = socket_mode.wait_ack(envelope, timeout)
    assert ack["envelope_id"] == envelope
    assert ack.payload is not None, ack
    assert "/polytomic help" in ack.payload["text"]
    return ack


def test_commands_are_acked_over_the_socket(
    socket_bot: BotProcess, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    ack = help_ack(socket_mode, slack)
    assert ack.elapsed < ACK_DEADLINE
    assert ack.payload is not None and ack.payload.get("response_type", "ephemeral") == "ephemeral"
    assert any(block.get("type") for block in ack.payload.get("blocks") or [])
    assert slack.calls("chat.postMessage") == [] and slack.responses() == []
    # help is acked at once and answered at the response_url, like over HTTP.
    help_url = slack.response_url("help")
    envelope = socket_mode.send_slash_command(
        "help", user_id="UNOBODY", channel_id=CHANNEL, response_url=help_url
    )
    assert socket_mode.wait_ack(envelope, ACK_DEADLINE).elapsed < ACK_DEADLINE
    slack.wait_for(lambda fake: bool(fake.responses(help_url)))
    assert "/polytomic status" in slack.responses(help_url)[0]["text"]
    assert "SLACK_SIGNING_SECRET" not in socket_bot.logs()


def test_cancel_story_over_the_socket(
    socket_bot: BotProcess, socket_mode: FakeSocketMode, slack: FakeSlack, polytomic: Any
) -> None:
    sync = polytomic.add_sync(name="Salesforce contacts")
    execution = sync.start_execution(cancel_delay=0.6, rows_per_second=200)

    command_url = slack.response_url("UADMIN:cancel")
    envelope = socket_mode.send_slash_command(
        f"cancel {sync.id}", user_id="UADMIN", channel_id=CHANNEL, response_url=command_url
    )
    ack = socket_mode.wait_ack(envelope, ACK_DEADLINE)
    assert ack.elapsed < ACK_DEADLINE
    assert ack.get("payload") in (None, {})  # an empty ack; the prompt follows at the response_url

    prompt = wait_until(lambda: slack.responses(command_url), 10, what="the prompt")[0]
    assert prompt["response_type"] == "ephemeral"
    assert "Salesforce contacts" in all_text(prompt) and "running" in all_text(prompt)
    confirm = button(prompt, "cancel_confirm")
    assert confirm["style"] == "danger"

    click_url = slack.response_url("UADMIN:click")
    click = socket_mode.send_block_actions("UADMIN", "cancel_confirm", confirm["value"], CHANNEL, click_url)
    assert socket_mode.wait_ack(click, ACK_DEADLINE).elapsed < ACK_DEADLINE

    def outcome() -> str | None:
        texts = [all_text(m.latest) for m in status_messages(slack)]
        return next((t for t in texts if "*canceled* after" in t), None)

    text = wait_until(outcome, 15, what="the status message to say canceled")
    assert "<@UADMIN> requested cancellation of *Salesforce contacts*" in text
    [message] = status_messages(slack)
    assert "canceling…" in all_text(message.versions[0])
    assert message.latest["text"].startswith(
        "<@UADMIN> requested cancellation of Salesforce contacts: canceled after "
    )
    wait_until(lambda: any(r["delete_original"] for r in slack.responses(click_url)), what="prompt removal")

    [notice] = status_messages(slack, INCIDENTS)
    assert "Salesforce contacts" in all_text(notice.latest)
    wait_until(lambda: slack.thread(INCIDENTS, notice.ts), what="the incident reply")

    [cancel] = polytomic.cancel_requests(sync.id)
    assert cancel.path == f"/api/syncs/{sync.id}/executions/{execution.id}/cancel"
    assert execution.status == "canceled"
    # Every Web API call went through the Socket Mode fake's front door to FakeSlack.
    assert all(call.ok for call in slack.calls("chat.postMessage"))


def test_refresh_requested_reconnects(
    socket_bot: BotProcess, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    [first] = socket_mode.connections
    socket_mode.request_refresh(close_after=8)

    second = socket_mode.wait_connections(2, timeout=10)[1]
    assert second.ticket != first.ticket
    assert [c.ok for c in socket_mode.open_calls] == [True, True]
    # An envelope that arrives while the client switches is still answered, on the new
    # connection (test_envelope_during_refresh_is_acked_promptly checks how fast).
    during = help_ack(socket_mode, slack, timeout=10)
    assert during.connection_id == second.id

    closed = socket_mode.wait_closed(first.id, timeout=10)
    assert closed.closed_by == "client"  # it let go of the old socket itself, before Slack did
    after = help_ack(socket_mode, slack)
    assert after.connection_id == second.id and after.elapsed < ACK_DEADLINE
    assert [c.id for c in socket_mode.open_connections] == [second.id]
    assert len(socket_mode.connections) == 2


def test_envelope_during_refresh_is_acked_promptly(
    socket_bot: BotProcess, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    time.sleep(0.5)  # let the connect-time ping/pong settle: nothing else wakes the old recv()
    socket_mode.request_refresh()
    socket_mode.wait_connections(2, timeout=10)
    ack = help_ack(socket_mode, slack, timeout=10)  # Slack sends to any open connection
    # Acks normally take milliseconds; Slack's 3 s budget also covers the network.
    assert ack.elapsed < 1.5, f"held for {ack.elapsed:.2f} s"


def test_sigterm_exits_cleanly(socket_bot: BotProcess, socket_mode: FakeSocketMode, slack: FakeSlack) -> None:
    help_ack(socket_mode, slack)
    assert socket_bot.proc is not None
    started = time.monotonic()
    socket_bot.signal(signal.SIGTERM)
    code = socket_bot.proc.wait(10)
    took = time.monotonic() - started
    assert code == 0, socket_bot.logs()[-3000:]
    assert took < 10
    socket_mode.wait_closed(socket_mode.connections[0].id, timeout=5)
    assert "signal received, draining" in socket_bot.logs()


def test_no_envelope_or_response_url_reaches_the_log_at_debug(
    socket_mode: FakeSocketMode, start_bot: Any, slack: FakeSlack
) -> None:
    """Bolt copied the root level onto its loggers when the app was built, so at DEBUG slack_sdk's
    Socket Mode client (which logs through Bolt's logger) wrote every envelope to the log,
    response_url and all. It logs through the `slack_bolt` logger now, held at WARNING."""
    bot = start_bot(
        "socket",
        SLACK_SIGNING_SECRET=None,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=socket_mode.api_url,
        LOG_LEVEL="DEBUG",
    )
    wait_until(lambda: "socket mode connected" in bot.logs(), 20, 0.05, "the socket to connect")
    url = slack.response_url("debug")
    envelope = socket_mode.send_slash_command(
        "grants ENVELOPEMARKER", user_id="UADMIN", channel_id=CHANNEL, response_url=url
    )
    socket_mode.wait_ack(envelope, ACK_DEADLINE)
    url = slack.response_url("grants")
    envelope = socket_mode.send_slash_command(
        "grants", user_id="UADMIN", channel_id=CHANNEL, response_url=url
    )
    socket_mode.wait_ack(envelope, ACK_DEADLINE)
    wait_until(lambda: slack.responses(url), what="the grants listing")
    bot.stop()
    logs = bot.logs()
    for marker in ("ENVELOPEMARKER", url.rsplit("/", 1)[1], APP_TOKEN, "xoxb-test-token"):
        assert marker not in logs, marker
