"""The surfaces one by one: the cancel prompt, the status message, the incident posts, the
replies; and the Block Kit shapes Slack enforces."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.commands import USAGE, Invalid
from bot.operations import STUCK_AFTER, State
from bot.permissions import Decision, Rule
from bot.polytomic import (
    Conflict,
    ExecutionCounts,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    SyncStatus,
    Unauthorized,
    Unavailable,
)
from bot.views import access, blocks, incident, prompts, replies, status, syncs
from bot.views import buttons as button_values
from bot.views import notes as row_notes
from tests.unit.views.cases import (
    CHANNEL,
    EVIL,
    EXEC_ID,
    NOW,
    REQUESTER,
    SYNC_ID,
    _buttons,
    _op_states,
    ended,
    make_execution,
    make_op,
    make_sync,
    strings,
)

# ---- released notes, headlines, the incident notice ---------------------------------------


def test_a_released_click_shows_the_note_kept_on_its_row_as_it_was_rendered() -> None:
    op = make_op(sync_name="Orders")
    kept = make_op(state="stale", last_error=row_notes.stale_note(op, ended("completed"), False))
    assert replies.released(kept) == replies.stale(op, ended("completed"), False)
    assert "*completed*" in replies.released(kept).blocks[0]["text"]["text"]
    decision = Decision(False, "U9", "cancel", SYNC_ID, "no grant")
    denied = make_op(state="denied", last_error=row_notes.denied_note(decision))
    assert replies.released(denied) == replies.denied(decision)


def test_state_words_are_not_confused() -> None:
    views = {key: status.status_message(op, NOW) for key, op, _facts, _notes in _op_states("Orders")}
    assert "not canceled" not in views["canceled"].text
    assert "still" not in views["canceling"].text
    assert "canceled" not in views["completed"].text
    running = SyncStatus(make_execution(), ended("completed"), None)
    assert "not running" not in syncs.sync_status(make_sync("Orders"), running).text


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_name_falls_back_to_the_id(blank: str) -> None:
    view = status.status_message(make_op(sync_name=blank), NOW)
    assert SYNC_ID in view.text.split("\n")[0]
    assert f"`{SYNC_ID}`" in view.blocks[0]["text"]["text"]


def test_the_outcome_headlines_carry_the_facts() -> None:
    op = make_op(
        state=State.CANCELED.value,
        cancel_sent_at=NOW - timedelta(seconds=50),
        execution_ended_at=NOW - timedelta(seconds=5),
        rows_written=1234,
    )
    view = status.status_message(op, NOW)
    headline = view.blocks[0]["text"]["text"]
    assert headline == (
        f"<@{REQUESTER}> requested cancellation of *Orders to Salesforce*: *canceled* after 45 seconds, "
        "1,234 rows written before it stopped."
    )
    assert view.text.split("\n")[0] == headline.replace("*", "")
    failed = make_op(state=State.FAILED.value, execution_errors="destination quota exceeded")
    assert "destination quota exceeded" in status.status_message(failed, NOW).blocks[0]["text"]["text"]


def test_the_incident_notice_says_who_which_and_where() -> None:
    view = incident.incident_notice(make_op())
    assert view.text == (
        f"<@{REQUESTER}> requested cancellation of Orders to Salesforce in <#{CHANNEL}>.\n"
        f"Sync {SYNC_ID} · execution {EXEC_ID}"
    )


# ---- the cancel prompt -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Orders to Salesforce", None, "x" * 5000, "🚀" * 400, EVIL * 20, "ñ" * 299])
def test_cancel_prompt_buttons_and_confirm_dialog_within_slack_limits(name: str | None) -> None:
    sync = make_sync(name)
    view = prompts.cancel_prompt(sync, make_execution(), EXEC_ID)
    buttons = _buttons(view)
    assert [b["text"]["text"] for b in buttons] == ["Cancel sync", "Keep running"]
    cancel, keep = buttons
    assert cancel["style"] == "danger"
    assert cancel["action_id"] == button_values.CONFIRM_ACTION
    assert keep["action_id"] == button_values.DISMISS_ACTION
    assert keep.get("style") != "danger"
    assert "confirm" not in keep
    confirm = cancel["confirm"]
    for part in ("title", "text", "confirm", "deny"):
        assert confirm[part]["type"] == "plain_text"
        assert confirm[part]["text"].strip()
    assert len(confirm["title"]["text"]) <= 100
    assert len(confirm["text"]["text"]) <= 300
    assert len(confirm["confirm"]["text"]) <= 30
    assert len(confirm["deny"]["text"]) <= 30
    assert confirm.get("style") == "danger"
    for button in buttons:
        assert len(button["value"]) <= 2000
        assert len(button["text"]["text"]) <= 75
        assert len(button["action_id"]) <= 255
    # The button is bound to the execution the user saw.
    assert json.loads(cancel["value"]) == {"s": SYNC_ID, "e": EXEC_ID}
    assert button_values.confirm_value(SYNC_ID, EXEC_ID) == cancel["value"]


def test_cancel_prompt_shows_the_running_execution() -> None:
    execution = make_execution("running", counts=ExecutionCounts(insert=1000, update=500))
    view = prompts.cancel_prompt(make_sync("Orders"), execution, EXEC_ID)
    body = "\n".join(strings(view.blocks))
    assert "running" in body
    assert "1,500 rows" in body
    assert "<!date^" in body  # started when, in the reader's time zone
    assert EXEC_ID in body


# ---- status message: progress and escalation ------------------------------------------------


def test_status_message_without_progress_differs_only_in_progress_details() -> None:
    op = make_op(polytomic_status="running", rows_written=5000)
    full = status.status_message(op, NOW)
    bare = status.status_message(op, NOW, progress=False)
    # The text says the same as the blocks: the progress line too, only in the full view.
    [progress] = [line for line in full.text.split("\n") if line not in bare.text.split("\n")]
    assert progress == "Canceling for 40 seconds · Polytomic status: running · 5,000 rows so far"
    assert full.text.replace(progress + "\n", "") == bare.text
    assert full.blocks[0] == bare.blocks[0]
    assert len(full.blocks) == len(bare.blocks)
    full_notes = full.blocks[1]["elements"][0]["text"].split("\n")
    bare_notes = bare.blocks[1]["elements"][0]["text"].split("\n")
    extra = [line for line in full_notes if line not in bare_notes]
    assert [line for line in bare_notes if line not in full_notes] == []
    assert len(extra) == 1
    assert "running" in extra[0] and "5,000 rows" in extra[0]
    assert full.digest() != bare.digest()
    # More rows change the full view, never the bare one.
    more = make_op(polytomic_status="running", rows_written=9000)
    assert status.status_message(more, NOW, progress=False).digest() == bare.digest()
    assert status.status_message(more, NOW).digest() != full.digest()


def test_a_final_status_message_is_the_same_with_or_without_progress() -> None:
    op = make_op(state=State.CANCELED.value, polytomic_status="canceled", rows_written=3)
    assert status.status_message(op, NOW) == status.status_message(op, NOW, progress=False)


def test_an_escalated_operation_says_still_canceling_and_offers_a_retry() -> None:
    op = make_op(
        created_at=NOW - timedelta(minutes=31), escalated_at=NOW - timedelta(seconds=3), cancel_attempt=2
    )
    view = status.status_message(op, NOW)
    assert "still canceling" in view.text
    assert "31 minutes" in view.blocks[0]["text"]["text"]
    retries = [b for b in _buttons(view) if b["action_id"] == button_values.RETRY_ACTION]
    assert len(retries) == 1
    assert retries[0]["value"] == "42:2"
    assert len(retries[0]["value"]) <= 2000


def test_a_plain_canceling_operation_has_no_buttons() -> None:
    view = status.status_message(make_op(), NOW)
    assert "still" not in view.text
    assert _buttons(view) == []
    done = make_op(state=State.CANCELED.value, escalated_at=NOW)
    assert _buttons(status.status_message(done, NOW)) == []


def test_a_failed_incident_notice_is_shown_on_the_status_message() -> None:
    view = status.status_message(make_op(incident_error="not_in_channel"), NOW)
    notes = view.blocks[1]["elements"][0]["text"]
    assert "incident" in notes and "not_in_channel" in notes


def test_requester_note_says_to_invite_the_bot() -> None:
    view = status.requester_note(make_op(status_error="not_in_channel"), NOW)
    assert "/invite" in view.blocks[0]["text"]["text"]
    other = status.requester_note(make_op(status_error="ratelimited"), NOW)
    assert "/invite" not in other.blocks[0]["text"]["text"]


# ---- denial and Polytomic failures -----------------------------------------------------------


def test_the_denial_says_what_is_missing_and_who_can_grant_it() -> None:
    decision = Decision(False, "U9", "cancel", SYNC_ID, "no grant", granters=("<@UADMIN>", "<!subteam^SOPS>"))
    view = replies.denied(decision)
    assert f"you need `cancel` on sync `{SYNC_ID}` (or on `*`)" in view.blocks[0]["text"]["text"]
    assert f"you need cancel on sync {SYNC_ID} (or on *)" in view.text
    assert "<@UADMIN>" in view.text and "<!subteam^SOPS>" in view.text
    nobody = replies.denied(Decision(False, "U9", "admin", None, "no grant"))
    assert "you need admin on *" in nobody.text
    assert "BOT_ADMINS" in nobody.text


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (Unauthorized("bad key", status=401), "401"),
        (Forbidden("not allowed", status=403), "403"),
    ],
)
def test_credential_failures_name_the_setting(error: PolytomicError, needle: str) -> None:
    view = replies.polytomic_failure(error, SYNC_ID)
    assert "POLYTOMIC_API_KEY" in view.text
    assert needle in view.text
    assert "bot" in view.text


def test_other_polytomic_failures() -> None:
    not_found = replies.polytomic_failure(NotFound("no such sync", status=404), SYNC_ID)
    assert SYNC_ID in not_found.text and "no such sync" in not_found.text
    assert "POLYTOMIC_API_KEY" not in not_found.text
    for error in (Unavailable("timeout"), RateLimited("slow down")):
        view = replies.polytomic_failure(error, SYNC_ID)
        assert "nothing was changed" in view.text
        assert "POLYTOMIC_API_KEY" not in view.text
    assert "409" in replies.polytomic_failure(Conflict("", status=409), None).text


# ---- small views ------------------------------------------------------------------------------


def test_usage_and_help() -> None:
    view = replies.usage(Invalid("`cancel` takes one sync.", USAGE["cancel"]))
    assert view.blocks[0]["text"]["text"].startswith(
        "`cancel` takes one sync.\nUsage: `/polytomic cancel &lt;"
    )
    assert view.text.startswith("cancel takes one sync.\nUsage: /polytomic cancel &lt;")
    assert blocks.escape(USAGE["cancel"]) in view.text
    help_text = replies.help_view(frozenset({"cancel", "pause", "admin"})).text
    for verb in ("cancel", "status", "list", "why", "audit", "grant", "revoke", "grants"):
        assert blocks.escape(USAGE[verb]) in help_text
    limited = replies.help_view(frozenset()).text
    assert blocks.escape(USAGE["cancel"]) not in limited and blocks.escape(USAGE["status"]) in limited


def test_grants_list() -> None:
    rules = [Rule(1, "user", "U1", "cancel", "*"), Rule(2, "usergroup", "S9", "admin", SYNC_ID)]
    text = access.grants_list(rules, frozenset({"UADMIN"})).text
    assert "<@UADMIN>" in text
    assert "grant #1" in text and "<!subteam^S9>" in text and SYNC_ID in text
    empty = access.grants_list([], frozenset()).text
    assert "No grants" in empty


@pytest.mark.parametrize(
    ("verb", "changed", "needle"),
    [
        ("grant", True, "may now"),
        ("grant", False, "already"),
        ("revoke", True, "no longer"),
        ("revoke", False, "had no"),
    ],
)
def test_grant_changed(verb: str, changed: bool, needle: str) -> None:
    text = access.grant_changed(verb, "<@U1>", "cancel", SYNC_ID, changed).text
    assert needle in text and "<@U1>" in text and SYNC_ID in text
    assert "every sync" in access.grant_changed(verb, "<@U1>", "cancel", "*", changed).text


def test_a_status_message_without_a_progress_line_is_the_same_without_progress() -> None:
    """A tracker pass renders the state-only message and uses it as the whole one when
    `shows_progress` says there is no progress line: the two must then be the same view."""
    stuck_op = make_op(cancel_sent_at=NOW, attempts=STUCK_AFTER, last_error="Polytomic unreachable: 503")
    cases = [(key, op) for key, op, _facts, _notes in _op_states("Orders")] + [("stuck", stuck_op)]
    showing = set()
    for key, op in cases:
        whole, state_only = status.status_message(op, NOW), status.status_message(op, NOW, progress=False)
        assert (whole == state_only) is not status.shows_progress(op), key
        if status.shows_progress(op):
            showing.add(key)
            assert "so far" in whole.text and "so far" not in state_only.text, key
    assert showing == {"canceling", "escalated", "pause-failed", "incident-failed"}
