"""The whole /polytomic cancel story, for each outcome: the bot in this process (production's
wiring), signed requests, the fake Slack and Polytomic servers, and a real SQLite database."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    CHANNEL,
    INCIDENTS,
    SlackUser,
    all_text,
    button,
    confirm,
    db_rows,
    status_messages,
)
from tests.scenario.inprocess import final_text, wait_until


@pytest.fixture
def admin_bot(start_bot: Any) -> Any:
    return start_bot(INCIDENT_CHANNEL=INCIDENTS)


def test_canceled_story(admin_bot: Any, slack: Any, polytomic: Any, tmp_path: Path) -> None:
    sync = polytomic.add_sync(name="Salesforce contacts")
    execution = sync.start_execution(cancel_delay=0.6, rows_per_second=200)
    user = SlackUser(admin_bot, slack, "UADMIN", CHANNEL)

    prompt, click_url = confirm(user, sync.id)

    # The prompt: only to the user (ephemeral), the sync's name, the running execution, buttons.
    assert prompt["response_type"] == "ephemeral"
    shown = all_text(prompt)
    assert "Salesforce contacts" in shown and "running" in shown and "Rows so far" in shown
    danger = button(prompt, "cancel_confirm")
    assert danger["style"] == "danger" and danger["confirm"]["style"] == "danger"
    assert json.loads(danger["value"]) == {"s": sync.id, "e": execution.id}
    assert button(prompt, "cancel_dismiss")["text"]["text"] == "Keep running"

    text = final_text(slack, "*canceled* after")
    assert "<@UADMIN> requested cancellation of *Salesforce contacts*" in text
    assert "rows written before it stopped" in text

    # The prompt went away.
    wait_until(lambda: any(r["delete_original"] for r in slack.responses(click_url)))
    # One message, first "canceling…", edited to the outcome.
    [message] = status_messages(slack)
    assert "canceling…" in all_text(message.versions[0])
    # The text (notifications, screen readers, search) says what the blocks say, in plain words.
    headline, ids = message.latest["text"].split("\n")
    assert re.fullmatch(
        r"<@UADMIN> requested cancellation of Salesforce contacts: canceled after \d+ seconds?, "
        r"[\d,]+ rows? written before it stopped\.",
        headline,
    ), headline
    assert ids == f"Sync {sync.id} · execution {execution.id}"
    # The incident channel: a notice naming sync, requester and channel, then the outcome.
    [notice] = status_messages(slack, INCIDENTS)
    assert notice.latest["text"] == (
        f"<@UADMIN> requested cancellation of Salesforce contacts in <#{CHANNEL}>.\n"
        f"Sync {sync.id} · execution {execution.id}"
    )
    notice_text = all_text(notice.latest)
    assert "*Salesforce contacts*" in notice_text and f"<#{CHANNEL}>" in notice_text
    wait_until(lambda: slack.thread(INCIDENTS, notice.ts))
    [reply] = slack.thread(INCIDENTS, notice.ts)
    assert "*canceled*" in all_text(reply.latest)
    assert reply.latest["text"].startswith(
        f"<@UADMIN> requested cancellation of Salesforce contacts in <#{CHANNEL}>: canceled after "
    )

    # Polytomic: exactly one cancel, of the execution the user saw, with an idempotency key.
    [cancel] = polytomic.cancel_requests(sync.id)
    assert cancel.method == "POST" and cancel.path == f"/api/syncs/{sync.id}/executions/{execution.id}/cancel"
    assert cancel.idempotency_key and cancel.idempotency_key.startswith("op-")
    assert execution.status == "canceled"
    # The sync was read by the command and by the click's check; its name known, never again.
    assert len(polytomic.requests_to("GET", rf"^/api/syncs/{sync.id}$")) == 2

    # The row is finished just after its last effect (the outcome reply) lands: wait for it.
    wait_until(lambda: db_rows(tmp_path, "SELECT finished_at FROM operations WHERE finished_at IS NOT NULL"))
    rows = db_rows(tmp_path, "SELECT state, finished_at IS NOT NULL, polytomic_status FROM operations")
    assert rows == [("canceled", 1, "canceled")]
    audit = db_rows(tmp_path, "SELECT action, decision, outcome FROM audit_events ORDER BY id")
    assert ("cancel.request", "allowed", None) in audit
    assert ("cancel.confirm", "allowed", None) in audit
    assert ("cancel", None, "canceled") in audit


@pytest.mark.parametrize(
    ("cancel_outcome", "errors", "phrase", "words"),
    [
        ("completed", None, "*completed* before the cancel took effect", "completed"),
        ("failed", ["Salesforce API limit exceeded"], "*failed* before it could be canceled", "failed"),
        ("interrupted", None, "was *interrupted*", "interrupted"),
    ],
)
def test_other_outcomes(
    admin_bot: Any, slack: Any, polytomic: Any, cancel_outcome: str, errors: Any, phrase: str, words: str
) -> None:
    sync = polytomic.add_sync(name="Hubspot deals")
    sync.start_execution(cancel_delay=0.4, cancel_outcome=cancel_outcome, errors=errors)
    confirm(SlackUser(admin_bot, slack, "UADMIN", CHANNEL), sync.id)

    text = final_text(slack, phrase)
    if errors:
        assert "Salesforce API limit exceeded" in text
    [message] = status_messages(slack)
    assert message.latest["text"].startswith(
        f"<@UADMIN> requested cancellation of Hubspot deals: the run {phrase.replace('*', '')}"
    )
    assert words in message.latest["text"]
    [notice] = status_messages(slack, INCIDENTS)
    wait_until(lambda: slack.thread(INCIDENTS, notice.ts))
    assert phrase in all_text(slack.thread(INCIDENTS, notice.ts)[0].latest)
    assert len(polytomic.cancel_requests(sync.id)) == 1


def test_run_ends_on_its_own_while_canceling(admin_bot: Any, slack: Any, polytomic: Any) -> None:
    """The cancel never lands (stays canceling) but the run fails by itself: reported as failed."""
    sync = polytomic.add_sync(name="Zendesk tickets")
    execution = sync.start_execution(cancel_delay=None)
    confirm(SlackUser(admin_bot, slack, "UADMIN", CHANNEL), sync.id)
    wait_until(lambda: "canceling" in execution.status)
    execution.finish("failed", errors=["destination rejected the batch"])
    text = final_text(slack, "*failed*")
    assert "destination rejected the batch" in text


def test_polytomic_url_instead_of_id(admin_bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Marketo leads")
    sync.start_execution(cancel_delay=0.3)
    url = f"<https://app.polytomic.com/models/syncs/{sync.id}/edit|https://app.polytomic.com/…>"
    confirm(SlackUser(admin_bot, slack, "UADMIN", CHANNEL), url)
    final_text(slack, "*canceled*")
    assert len(polytomic.cancel_requests(sync.id)) == 1


def test_keep_running_removes_the_prompt(admin_bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Keep me")
    execution = sync.start_execution()
    user = SlackUser(admin_bot, slack, "UADMIN", CHANNEL)
    _ack, url = user.command(f"cancel {sync.id}")
    prompt = user.answers(url)[0]
    click, click_url = user.click("cancel_dismiss", button(prompt, "cancel_dismiss")["value"])
    assert click.status_code == 200
    wait_until(lambda: any(r["delete_original"] for r in slack.responses(click_url)))
    assert polytomic.cancel_requests(sync.id) == []
    assert execution.status == "running"
    assert status_messages(slack) == []


def test_status_command(admin_bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Snowflake → Salesforce", next_run_in=600)
    sync.add_past_execution("failed", errors=["bad credentials"])
    sync.start_execution()
    user = SlackUser(admin_bot, slack, "UADMIN", CHANNEL)
    _ack, url = user.command(f"status {sync.id}")
    answer = all_text(user.answers(url)[0])
    assert "is running" in answer
    assert "Last run: *failed*" in answer and "bad credentials" in answer
    assert "Next scheduled run" in answer
    assert polytomic.cancel_requests() == []


def test_help_lists_what_the_caller_may_run(bot: Any, slack: Any) -> None:
    nobody = SlackUser(bot, slack, "UNOBODY", CHANNEL)
    ack, url = nobody.command("help")
    assert ack.status_code == 200
    text = all_text(nobody.answers(url)[0])
    assert "/polytomic status" in text and "/polytomic list" in text and "/polytomic why" in text
    assert "/polytomic cancel <" not in text and "/polytomic grant <" not in text
    assert "/polytomic audit" not in text
    assert "ask a bot admin for the `cancel` permission" in text
    assert "Example:" in text

    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _ack, url = admin.command("help")
    text = all_text(admin.answers(url)[0])
    for sub in ("cancel", "list", "status", "why", "audit", "grant", "revoke", "grants", "help"):
        assert f"/polytomic {sub}" in text
    assert "Cancel and pause the schedule" in text
