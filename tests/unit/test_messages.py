"""bot.messages: every view's text fallback, escaping, and the Block Kit shapes Slack enforces."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import messages
from bot.commands import USAGE, Invalid
from bot.db.models import Operation
from bot.messages import View, escape
from bot.operations import State
from bot.permissions import Decision, Rule
from bot.polytomic import (
    Conflict,
    Execution,
    ExecutionCounts,
    ExecutionStatus,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    Sync,
    SyncStatus,
    Unauthorized,
    Unavailable,
)

SYNC_ID = "248df4b7-aa70-47b8-a036-33ac447e668d"
EXEC_ID = "7f6e5d4c-3b2a-4190-8877-665544332211"
NEXT_EXEC = "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d"
NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)
EVIL = "Orders <!channel> <@U1> <https://evil|x> & <!here> &lt;!everyone&gt;"
EVIL_PARTS = ("<!channel>", "<@U1>", "<https://evil|x>", "<!here>")
REQUESTER = "UREQUESTER1"
CHANNEL = "CCHANNEL1"


def make_op(**fields: Any) -> Operation:
    values: dict[str, Any] = {
        "id": 42,
        "kind": "cancel",
        "sync_id": SYNC_ID,
        "sync_name": "Orders to Salesforce",
        "execution_id": EXEC_ID,
        "requested_by": REQUESTER,
        "channel_id": CHANNEL,
        "state": State.CANCELING.value,
        "cancel_attempt": 1,
        "attempts": 0,
        "created_at": NOW - timedelta(seconds=40),
        "updated_at": NOW,
        "next_poll_at": NOW,
    }
    values.update(fields)
    return Operation(**values)


def make_execution(status: str = "running", **fields: Any) -> Execution:
    values: dict[str, Any] = {
        "id": EXEC_ID,
        "status": ExecutionStatus.parse(status),
        "created_at": NOW - timedelta(minutes=5),
        "started_at": NOW - timedelta(minutes=4),
        "counts": ExecutionCounts(insert=1200, update=34),
    }
    values.update(fields)
    return Execution(**values)


def make_sync(name: str | None = "Orders to Salesforce", **fields: Any) -> Sync:
    return Sync(id=SYNC_ID, name=name, active=True, **fields)


def ended(status: str, *, errors: tuple[str, ...] = ()) -> Execution:
    return make_execution(status, completed_at=NOW - timedelta(minutes=1), errors=errors)


def strings(value: Any, *, skip_plain_text: bool = False) -> Iterator[str]:
    """Every string in a view's blocks (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if skip_plain_text and value.get("type") == "plain_text":
            return
        for item in value.values():
            yield from strings(item, skip_plain_text=skip_plain_text)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, skip_plain_text=skip_plain_text)


def all_strings(view: View, *, skip_plain_text: bool = False) -> list[str]:
    return [view.text, *strings(view.blocks, skip_plain_text=skip_plain_text)]


_RAW_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def unescaped(text: str) -> list[str]:
    found = [part for part in EVIL_PARTS if part in text]
    if _RAW_AMP.search(text):
        found.append("&")
    if "&lt;!everyone&gt;" in text and "&amp;lt;!everyone&amp;gt;" not in text:
        found.append("&lt;!everyone&gt; (entities passed through)")
    return found


# ---- escape --------------------------------------------------------------------------------


def test_escape() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert escape("<!channel>") == "&lt;!channel&gt;"
    assert escape("&lt;") == "&amp;lt;"  # & first: never a half-escaped entity
    assert escape("plain *bold* _it_ :emoji: ✓") == "plain *bold* _it_ :emoji: ✓"
    assert escape("") == ""


# ---- the text fallback names the sync and states the state ---------------------------------


def op_views(name: str | None) -> dict[str, tuple[View, str]]:
    """(view, the plain words of its state) for every view rendered from an operation row."""
    ended_at = NOW - timedelta(seconds=5)
    sent = NOW - timedelta(seconds=35)
    views: dict[str, tuple[View, str]] = {}
    for state, words in (
        (State.CANCELED, "canceled"),
        (State.COMPLETED, "completed"),
        (State.FAILED, "failed"),
        (State.INTERRUPTED, "interrupted"),
        (State.REJECTED, "not canceled"),
    ):
        op = make_op(
            sync_name=name,
            state=state.value,
            cancel_sent_at=sent,
            execution_ended_at=ended_at,
            rows_written=1234,
            execution_errors="boom",
            last_error="Polytomic refused",
        )
        views[f"status_message:{state}"] = (messages.status_message(op, NOW), words)
        views[f"incident_outcome:{state}"] = (messages.incident_outcome(op, NOW), words)
        views[f"requester_note:{state}"] = (messages.requester_note(op, NOW), words)
    canceling = make_op(sync_name=name, polytomic_status="running", rows_written=10)
    views["status_message:canceling"] = (messages.status_message(canceling, NOW), "canceling")
    views["incident_notice"] = (messages.incident_notice(canceling), "canceling")
    escalated = make_op(sync_name=name, escalated_at=NOW - timedelta(seconds=1))
    views["status_message:escalated"] = (messages.status_message(escalated, NOW), "still canceling")
    return views


def sync_views(name: str | None) -> dict[str, tuple[View, str]]:
    sync = make_sync(name)
    idle = SyncStatus(None, ended("completed"), NOW + timedelta(hours=1))
    running = SyncStatus(make_execution(), ended("completed"), None)
    return {
        "nothing_running": (messages.nothing_running(sync, idle), "not running"),
        "sync_status:idle": (messages.sync_status(sync, idle), "not running"),
        "sync_status:running": (messages.sync_status(sync, running), "running"),
        "cancel_prompt": (messages.cancel_prompt(sync, make_execution(), EXEC_ID), "running"),
    }


@pytest.mark.parametrize("name", ["Orders to Salesforce", None])
def test_every_view_has_a_text_fallback_naming_the_sync_and_its_state(name: str | None) -> None:
    views = {**op_views(name), **sync_views(name)}
    for key, (view, words) in views.items():
        assert view.text.strip(), key
        expected_name = name if name else SYNC_ID
        assert expected_name in view.text, key
        assert words in view.text, key
        assert view.blocks, key


def test_state_words_are_not_confused() -> None:
    views = op_views("Orders")
    assert "not canceled" not in views["status_message:canceled"][0].text
    assert "still" not in views["status_message:canceling"][0].text
    assert "canceled" not in views["status_message:completed"][0].text
    assert "not running" not in sync_views("Orders")["sync_status:running"][0].text


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_name_falls_back_to_the_id(blank: str) -> None:
    view = messages.status_message(make_op(sync_name=blank), NOW)
    assert SYNC_ID in view.text
    assert SYNC_ID in view.blocks[0]["text"]["text"]


def test_the_outcome_headlines_carry_the_facts() -> None:
    op = make_op(
        state=State.CANCELED.value,
        cancel_sent_at=NOW - timedelta(seconds=50),
        execution_ended_at=NOW - timedelta(seconds=5),
        rows_written=1234,
    )
    headline = messages.status_message(op, NOW).blocks[0]["text"]["text"]
    assert f"<@{REQUESTER}>" in headline
    assert "45 seconds" in headline
    assert "1,234 rows" in headline
    failed = make_op(state=State.FAILED.value, execution_errors="destination quota exceeded")
    assert "destination quota exceeded" in messages.status_message(failed, NOW).blocks[0]["text"]["text"]


# ---- nothing user- or Polytomic-supplied lands unescaped ------------------------------------


def evil_views() -> dict[str, View]:
    sync = make_sync(EVIL)
    errors = (EVIL,)
    idle = SyncStatus(None, ended("failed", errors=errors), NOW + timedelta(hours=1))
    running = SyncStatus(make_execution(EVIL), ended("failed", errors=errors), None)
    views: dict[str, View] = {
        "nothing_running": messages.nothing_running(sync, idle),
        "sync_status:idle": messages.sync_status(sync, idle),
        "sync_status:running": messages.sync_status(sync, running),
        "cancel_prompt": messages.cancel_prompt(sync, make_execution(EVIL), EXEC_ID),
        "stale:ended": messages.stale(make_op(sync_name=EVIL), ended(EVIL), False),
        "stale:superseded": messages.stale(make_op(sync_name=EVIL), make_execution(), True),
        "already_requested": messages.already_requested(make_op(sync_name=EVIL)),
        "released:rejected": messages.released(
            make_op(sync_name=EVIL, state=State.REJECTED.value, last_error=EVIL)
        ),
    }
    for error in (
        NotFound(EVIL, status=404),
        Unauthorized(EVIL, status=401),
        Forbidden(EVIL, status=403),
        Conflict(EVIL, status=409),
        RateLimited(EVIL),
        Unavailable(EVIL, status=503),
        PolytomicError(EVIL, status=418),
    ):
        views[f"polytomic_failure:{type(error).__name__}"] = messages.polytomic_failure(error, SYNC_ID)
    for state in State:
        op = make_op(
            sync_name=EVIL,
            state=state.value,
            polytomic_status=EVIL[:32],
            execution_errors=EVIL,
            last_error=EVIL,
            incident_error=EVIL,
            status_error=EVIL,
            escalated_at=NOW if state == State.CANCELING else None,
        )
        views[f"status_message:{state}"] = messages.status_message(op, NOW)
        views[f"status_message:{state}:no-progress"] = messages.status_message(op, NOW, progress=False)
        views[f"incident_notice:{state}"] = messages.incident_notice(op)
        views[f"incident_outcome:{state}"] = messages.incident_outcome(op, NOW)
        views[f"requester_note:{state}"] = messages.requester_note(op, NOW)
    waiting = make_op(sync_name=EVIL, last_error=EVIL, cancel_sent_at=None)
    views["status_message:waiting-for-polytomic"] = messages.status_message(waiting, NOW)
    odd_ids = make_op(requested_by="<!channel>", channel_id="<!here>")
    views["incident_notice:odd-ids"] = messages.incident_notice(odd_ids)
    views["status_message:odd-ids"] = messages.status_message(odd_ids, NOW)
    return views


def test_supplied_text_is_escaped_in_every_mrkdwn_string_and_fallback() -> None:
    problems = {}
    for key, view in evil_views().items():
        for text in all_strings(view, skip_plain_text=True):
            if found := unescaped(text):
                problems[key] = (found, text)
    assert problems == {}


def test_the_payload_reaches_the_views_escaped() -> None:
    # The test above would pass on views that drop the name; make sure they show it, escaped.
    views = evil_views()
    for key in ("nothing_running", "cancel_prompt", "status_message:canceled", "incident_notice:canceling"):
        joined = "\n".join(all_strings(views[key]))
        assert "&lt;!channel&gt;" in joined, key
        assert "&amp;" in joined, key
    failed = "\n".join(all_strings(views["status_message:failed"]))
    assert failed.count("&lt;!channel&gt;") >= 2  # the name and Polytomic's error


def test_raw_text_only_in_plain_text_objects() -> None:
    """plain_text is never parsed for mentions or links, so the confirm dialog may quote the
    name as is; anything else with the raw payload would be a leak."""
    for key, view in evil_views().items():
        for block_text in strings(view.blocks):
            if unescaped(block_text):
                plain_texts = [obj["text"] for obj in _dicts(view.blocks) if obj.get("type") == "plain_text"]
                assert block_text in plain_texts, key


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def test_a_long_name_is_clipped() -> None:
    view = messages.status_message(make_op(sync_name="n" * 5000), NOW)
    assert len(view.text) < 400
    assert len(view.blocks[0]["text"]["text"]) < 3000  # Slack's section text limit


# ---- the cancel prompt -----------------------------------------------------------------------


def _buttons(view: View) -> list[dict[str, Any]]:
    return [d for d in _dicts(view.blocks) if d.get("type") == "button"]


@pytest.mark.parametrize("name", ["Orders to Salesforce", None, "x" * 5000, "🚀" * 400, EVIL * 20, "ñ" * 299])
def test_cancel_prompt_buttons_and_confirm_dialog_within_slack_limits(name: str | None) -> None:
    sync = make_sync(name)
    view = messages.cancel_prompt(sync, make_execution(), EXEC_ID)
    buttons = _buttons(view)
    assert [b["text"]["text"] for b in buttons] == ["Cancel sync", "Keep running"]
    cancel, keep = buttons
    assert cancel["style"] == "danger"
    assert cancel["action_id"] == messages.CONFIRM_ACTION
    assert keep["action_id"] == messages.DISMISS_ACTION
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
    assert messages.confirm_value(SYNC_ID, EXEC_ID) == cancel["value"]


def test_cancel_prompt_shows_the_running_execution() -> None:
    execution = make_execution("running", counts=ExecutionCounts(insert=1000, update=500))
    view = messages.cancel_prompt(make_sync("Orders"), execution, EXEC_ID)
    body = "\n".join(strings(view.blocks))
    assert "running" in body
    assert "1,500 rows" in body
    assert "<!date^" in body  # started when, in the reader's time zone
    assert EXEC_ID in body


# ---- status message: progress and escalation ------------------------------------------------


def test_status_message_without_progress_differs_only_in_progress_details() -> None:
    op = make_op(polytomic_status="running", rows_written=5000)
    full = messages.status_message(op, NOW)
    bare = messages.status_message(op, NOW, progress=False)
    assert full.text == bare.text
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
    assert messages.status_message(more, NOW, progress=False).digest() == bare.digest()
    assert messages.status_message(more, NOW).digest() != full.digest()


def test_a_final_status_message_is_the_same_with_or_without_progress() -> None:
    op = make_op(state=State.CANCELED.value, polytomic_status="canceled", rows_written=3)
    assert messages.status_message(op, NOW) == messages.status_message(op, NOW, progress=False)


def test_an_escalated_operation_says_still_canceling_and_offers_a_retry() -> None:
    op = make_op(
        created_at=NOW - timedelta(minutes=31), escalated_at=NOW - timedelta(seconds=3), cancel_attempt=2
    )
    view = messages.status_message(op, NOW)
    assert "still canceling" in view.text
    assert "31 minutes" in view.blocks[0]["text"]["text"]
    retries = [b for b in _buttons(view) if b["action_id"] == messages.RETRY_ACTION]
    assert len(retries) == 1
    assert retries[0]["value"] == "42:2"
    assert len(retries[0]["value"]) <= 2000


def test_a_plain_canceling_operation_has_no_buttons() -> None:
    view = messages.status_message(make_op(), NOW)
    assert "still" not in view.text
    assert _buttons(view) == []
    done = make_op(state=State.CANCELED.value, escalated_at=NOW)
    assert _buttons(messages.status_message(done, NOW)) == []


def test_a_failed_incident_notice_is_shown_on_the_status_message() -> None:
    view = messages.status_message(make_op(incident_error="not_in_channel"), NOW)
    notes = view.blocks[1]["elements"][0]["text"]
    assert "incident" in notes and "not_in_channel" in notes


def test_requester_note_says_to_invite_the_bot() -> None:
    view = messages.requester_note(make_op(status_error="not_in_channel"), NOW)
    assert "/invite" in view.blocks[0]["text"]["text"]
    other = messages.requester_note(make_op(status_error="ratelimited"), NOW)
    assert "/invite" not in other.blocks[0]["text"]["text"]


# ---- denial and Polytomic failures -----------------------------------------------------------


def test_the_denial_says_what_is_missing_and_who_can_grant_it() -> None:
    decision = Decision(False, "U9", "cancel", SYNC_ID, "no grant", granters=("<@UADMIN>", "<!subteam^SOPS>"))
    view = messages.denied(decision)
    assert "`cancel`" in view.text
    assert SYNC_ID in view.text
    assert "<@UADMIN>" in view.text and "<!subteam^SOPS>" in view.text
    nobody = messages.denied(Decision(False, "U9", "admin", None, "no grant"))
    assert "`admin`" in nobody.text
    assert "BOT_ADMINS" in nobody.text


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (Unauthorized("bad key", status=401), "401"),
        (Forbidden("not allowed", status=403), "403"),
    ],
)
def test_credential_failures_name_the_setting(error: PolytomicError, needle: str) -> None:
    view = messages.polytomic_failure(error, SYNC_ID)
    assert "POLYTOMIC_API_KEY" in view.text
    assert needle in view.text
    assert "bot" in view.text


def test_other_polytomic_failures() -> None:
    not_found = messages.polytomic_failure(NotFound("no such sync", status=404), SYNC_ID)
    assert SYNC_ID in not_found.text and "no such sync" in not_found.text
    assert "POLYTOMIC_API_KEY" not in not_found.text
    for error in (Unavailable("timeout"), RateLimited("slow down")):
        view = messages.polytomic_failure(error, SYNC_ID)
        assert "nothing was changed" in view.text
        assert "POLYTOMIC_API_KEY" not in view.text
    assert "409" in messages.polytomic_failure(Conflict("", status=409), None).text


# ---- small views ------------------------------------------------------------------------------


def test_usage_and_help() -> None:
    view = messages.usage(Invalid("`cancel` takes one sync.", USAGE["cancel"]))
    assert "`cancel` takes one sync." in view.text
    assert messages.escape(USAGE["cancel"]) in view.text
    help_text = messages.help_view(frozenset({"cancel", "pause", "admin"})).text
    for verb in ("cancel", "status", "list", "why", "audit", "grant", "revoke", "grants"):
        assert messages.escape(USAGE[verb]) in help_text
    limited = messages.help_view(frozenset()).text
    assert messages.escape(USAGE["cancel"]) not in limited and messages.escape(USAGE["status"]) in limited


def test_grants_list() -> None:
    rules = [Rule(1, "user", "U1", "cancel", "*"), Rule(2, "usergroup", "S9", "admin", SYNC_ID)]
    text = messages.grants_list(rules, frozenset({"UADMIN"})).text
    assert "<@UADMIN>" in text
    assert "grant #1" in text and "<!subteam^S9>" in text and SYNC_ID in text
    empty = messages.grants_list([], frozenset()).text
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
    text = messages.grant_changed(verb, "<@U1>", "cancel", SYNC_ID, changed).text
    assert needle in text and "<@U1>" in text and SYNC_ID in text
    assert "every sync" in messages.grant_changed(verb, "<@U1>", "cancel", "*", changed).text


def test_duration_and_rows_wording() -> None:
    assert messages.duration(None) == "an unknown time"
    assert messages.duration(1) == "1 second"
    assert messages.duration(45) == "45 seconds"
    assert messages.duration(150) == "2 min 30 s"
    assert messages.duration(7200) == "2 h 0 min"
    assert messages.rows(None) == "an unknown number of rows"
    assert messages.rows(1) == "1 row"
    assert messages.rows(1234567) == "1,234,567 rows"


def test_user_mentions_only_ids() -> None:
    assert messages.user("U123ABC") == "<@U123ABC>"
    assert messages.user("<!channel>") == "&lt;!channel&gt;"
