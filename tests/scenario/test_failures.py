"""Each failure gets a clear answer, and nothing reaches Polytomic that should not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    CHANNEL,
    INCIDENTS,
    POLYTOMIC_KEY,
    SlackUser,
    all_text,
    answer_to,
    button,
    confirm,
    db_rows,
    status_messages,
)
from tests.scenario.inprocess import final_text, wait_until


def test_nothing_running(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Quiet sync", next_run_in=900)
    sync.add_past_execution("completed", rows=1234)
    text = answer_to(SlackUser(bot, slack, "UADMIN"), f"cancel {sync.id}")
    assert "Quiet sync* is not running: nothing to cancel" in text
    assert "Last run: *completed*" in text and "1,234 rows" in text
    assert "Next scheduled run" in text
    assert polytomic.cancel_requests() == []


def test_unknown_sync(bot: Any, slack: Any, polytomic: Any) -> None:
    text = answer_to(SlackUser(bot, slack, "UADMIN"), "cancel 00000000-0000-4000-8000-000000000000")
    assert "Polytomic has no sync `00000000-0000-4000-8000-000000000000`" in text
    assert polytomic.cancel_requests() == []


@pytest.mark.parametrize(("status", "phrase"), [(401, "rejected the bot's API key"), (403, "not allowed")])
def test_bot_credentials_rejected(bot: Any, slack: Any, polytomic: Any, status: int, phrase: str) -> None:
    sync = polytomic.add_sync(name="Any")
    sync.start_execution()
    polytomic.inject("GET", r"^/api/syncs/", status=status, times=10)
    text = answer_to(SlackUser(bot, slack, "UADMIN"), f"cancel {sync.id}")
    assert phrase in text and "POLYTOMIC_API_KEY" in text
    assert POLYTOMIC_KEY not in text
    assert polytomic.cancel_requests() == []


def test_polytomic_unreachable_after_retries(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Any")
    sync.start_execution()
    polytomic.inject("GET", rf"^/api/syncs/{sync.id}$", status=503, times=20)
    text = answer_to(SlackUser(bot, slack, "UADMIN"), f"cancel {sync.id}")
    assert "couldn't reach Polytomic" in text and "nothing was changed" in text
    # Retried (GETs are) before giving up, and no cancel was sent.
    assert len(polytomic.requests_to("GET", rf"^/api/syncs/{sync.id}$")) >= 2
    assert polytomic.cancel_requests() == []


def test_bot_not_in_private_channel(start_bot: Any, slack: Any, polytomic: Any, tmp_path: Path) -> None:
    """The cancel still goes through; the requester is told privately to /invite the bot."""
    bot = start_bot(INCIDENT_CHANNEL=INCIDENTS)
    slack.add_channel("GSECRET", "secret", is_private=True, is_member=False)
    sync = polytomic.add_sync(name="Private sync")
    sync.start_execution(cancel_delay=0.5)
    _prompt, click_url = confirm(SlackUser(bot, slack, "UADMIN", "GSECRET"), sync.id)

    def told(phrase: str) -> bool:
        return any(phrase in all_text(r) for r in slack.responses(click_url))

    wait_until(lambda: told("/invite"), what="the /invite hint")
    wait_until(lambda: told("*canceled*"), what="the outcome, privately")
    assert len(polytomic.cancel_requests(sync.id)) == 1
    assert slack.messages_in("GSECRET") == []
    assert db_rows(tmp_path, "SELECT state, status_error FROM operations") == [("canceled", "not_in_channel")]
    # The incident channel still hears of it.
    [notice] = status_messages(slack, INCIDENTS)
    wait_until(lambda: slack.thread(INCIDENTS, notice.ts))


def test_incident_channel_unreachable(start_bot: Any, slack: Any, polytomic: Any) -> None:
    bot = start_bot(INCIDENT_CHANNEL="GLOCKED")
    slack.add_channel("GLOCKED", "locked", is_private=True, is_member=False)
    sync = polytomic.add_sync(name="Loud sync")
    sync.start_execution(cancel_delay=0.5)
    confirm(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    text = final_text(slack, "*canceled*")
    assert "incident channel notice failed" in text and "not_in_channel" in text
    assert len(polytomic.cancel_requests(sync.id)) == 1


def test_slack_rate_limits_are_honoured_not_shown(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Busy workspace")
    sync.start_execution(cancel_delay=0.3)
    slack.inject_rate_limit("chat.postMessage", retry_after=1, times=1)
    slack.inject_rate_limit("chat.update", retry_after=1, times=1)
    _prompt, click_url = confirm(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    final_text(slack, "*canceled*")
    posts = [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]
    assert [c.status for c in posts] == [429, 200]
    # The retry waited for Retry-After, and no user saw the rate limit.
    assert posts[1].time - posts[0].time >= 0.9
    for response in slack.responses(click_url):
        assert "rate" not in all_text(response).lower()
    assert "rate" not in all_text(status_messages(slack)[0].latest).lower()


def test_click_after_run_ended(bot: Any, slack: Any, polytomic: Any, tmp_path: Path) -> None:
    sync = polytomic.add_sync(name="Fast sync")
    execution = sync.start_execution()
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _ack, url = user.command(f"cancel {sync.id}")
    prompt = user.answers(url)[0]
    execution.finish("completed")
    _click, click_url = user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    wait_until(lambda: slack.responses(click_url), what="an answer to the click")
    text = all_text(slack.responses(click_url)[0])
    assert "already ended" in text and "*completed*" in text and "Nothing was canceled" in text
    assert polytomic.cancel_requests() == []
    assert status_messages(slack) == []
    assert db_rows(tmp_path, "SELECT state FROM operations") == [("stale",)]


def test_click_after_another_run_started(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Busy sync")
    first = sync.start_execution()
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _ack, url = user.command(f"cancel {sync.id}")
    prompt = user.answers(url)[0]
    first.finish("completed")
    second = sync.start_execution()
    _click, click_url = user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    wait_until(lambda: slack.responses(click_url), what="an answer to the click")
    assert "a newer run is going now" in all_text(slack.responses(click_url)[0])
    assert polytomic.cancel_requests() == []
    assert second.status == "running"


def test_cancel_rejected_by_polytomic_after_confirm(bot: Any, slack: Any, polytomic: Any) -> None:
    """The key loses its rights between the prompt and the click: the requester is told, once."""
    sync = polytomic.add_sync(name="Locked sync")
    sync.start_execution()
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _ack, url = user.command(f"cancel {sync.id}")
    prompt = user.answers(url)[0]
    polytomic.inject("POST", r"/cancel$", status=403, times=5)
    _click, click_url = user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    wait_until(lambda: any("not canceled" in all_text(r) for r in slack.responses(click_url)))
    assert "POLYTOMIC_API_KEY" in all_text(slack.responses(click_url)[-1])
    assert polytomic.effective_cancels(sync.id) == 0


def test_still_canceling_escalates_with_retry(
    start_bot: Any, slack: Any, polytomic: Any, tmp_path: Path
) -> None:
    bot = start_bot(INCIDENT_CHANNEL=INCIDENTS, POLL_TIMEOUT="1.5")
    sync = polytomic.add_sync(name="Stuck sync")
    execution = sync.start_execution(cancel_delay=None)  # the cancel never lands
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    confirm(user, sync.id)
    final_text(slack, "*still canceling* after")
    [message] = status_messages(slack)
    retry = button(message.latest, "cancel_retry")
    assert retry["text"]["text"] == "Try the cancel again"
    assert len(polytomic.cancel_requests(sync.id)) == 1

    user.click("cancel_retry", retry["value"], message_ts=message.ts)
    wait_until(lambda: len(polytomic.cancel_requests(sync.id)) == 2, what="the second cancel")
    keys = [r.idempotency_key for r in polytomic.cancel_requests(sync.id)]
    assert keys[0] != keys[1]  # a new attempt, so Polytomic acts on it
    # A second click on the same button sends nothing more.
    _again, again_url = user.click("cancel_retry", retry["value"], message_ts=message.ts)
    wait_until(lambda: slack.responses(again_url))
    assert "already retried" in all_text(slack.responses(again_url)[0])
    execution.finish("canceled")
    final_text(slack, "*canceled*")
    assert len(polytomic.cancel_requests(sync.id)) == 2
