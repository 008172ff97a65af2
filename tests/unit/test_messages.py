"""bot.messages: every view's text fallback, escaping, and the Block Kit shapes Slack enforces."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_type_hints

import pytest

from bot import messages
from bot.commands import USAGE, Invalid
from bot.db.models import AuditEvent, Operation
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


# ---- every view's text carries the facts of its blocks, in plain words, escaped ----------

NAMES = ("Orders to Salesforce", None, EVIL, "*bold* _it_ `code` ~struck~")
PLAIN_NAME = "Orders to Salesforce"  # nothing in it looks like markup
RESUMER = "URESUMER1"
ADMIN = "UADMIN"

# Slack markup a text may hold: mentions of users, channels and groups, and dates.
_ALLOWED_TOKEN = re.compile(
    r"<@[UW][A-Z0-9]+>|<#C[A-Z0-9]+>|<!subteam\^S[A-Z0-9]+>|<!date\^\d+\^[^<>|]*\|[^<>|]*>"
)
_TOKEN = re.compile(r"<[@#!][^<>]*>")
# Bold as Slack reads it: a `*` after no word character and before one that is not a space...
_BOLD_SPAN = re.compile(r"(?<![\w*])\*[^\s*][^*\n]*(?<=[^\s*])\*(?![\w*])")


def shown(name: str | None) -> str:
    """How a view names the sync: its name, escaped, or its ID."""
    return escape(name) if name else SYNC_ID


Case = tuple[View, tuple[str, ...]]  # a view and the facts its text must say


OpCase = tuple[str, Operation, tuple[str, ...], tuple[str, ...]]


def _op_states(name: str | None) -> Iterator[OpCase]:
    """An operation in every state, and the variants a status message shows: (key, row, the
    facts of the headline every view of it shows, the facts of the status message's notes)."""
    sent, ended_at = NOW - timedelta(seconds=35), NOW - timedelta(seconds=5)
    who, it, ids = f"<@{REQUESTER}>", shown(name), (SYNC_ID, EXEC_ID)
    outcomes = {
        State.CANCELED: ("canceled after 30 seconds", "1,234 rows written before it stopped"),
        State.COMPLETED: ("completed before the cancel took effect", "1,234 rows written"),
        State.FAILED: ("failed before it could be canceled", "destination quota exceeded"),
        State.INTERRUPTED: ("interrupted", "1,234 rows written"),
        State.REJECTED: ("not canceled", "Polytomic refused the cancel (403)"),
    }
    for state in State:
        op = make_op(
            sync_name=name,
            state=state.value,
            cancel_sent_at=sent,
            execution_ended_at=ended_at,
            rows_written=1234,
            polytomic_status="canceled" if state in outcomes else "running",
            execution_errors="destination quota exceeded",
            last_error="Polytomic refused the cancel (403)",
        )
        progress = ("Canceling for 40 seconds", "1,234 rows so far") if state is State.CANCELING else ()
        yield state.value, op, (who, it, *outcomes.get(state, ("canceling",))), (*progress, *ids)
    escalated = make_op(
        sync_name=name, created_at=NOW - timedelta(minutes=31), escalated_at=NOW, cancel_sent_at=sent
    )
    yield "escalated", escalated, (who, it, "still canceling after 31 minutes"), ids
    waiting = make_op(sync_name=name, last_error="Polytomic unreachable: 503")
    notes = ("Waiting for Polytomic to take the cancel: Polytomic unreachable: 503", *ids)
    yield "waiting-for-polytomic", waiting, (who, it, "canceling"), notes
    paused = make_op(
        sync_name=name,
        kind="cancel_and_pause",
        state=State.CANCELED.value,
        cancel_sent_at=sent,
        execution_ended_at=ended_at,
        rows_written=1,
        paused_at=NOW,
    )
    facts = (who, it, "and a pause of its schedule", "canceled after 30 seconds", "1 row written")
    yield "paused", paused, facts, ("Schedule paused", *ids)
    resumed = make_op(
        sync_name=name,
        kind="cancel_and_pause",
        state=State.COMPLETED.value,
        paused_at=NOW - timedelta(minutes=2),
        resumed_at=NOW,
        resumed_by=RESUMER,
    )
    yield "resumed", resumed, (who, it, "completed"), (f"resumed by <@{RESUMER}>", "<!date^", *ids)
    pause_failed = make_op(
        sync_name=name, kind="cancel_and_pause", cancel_sent_at=sent, pause_error="403 forbidden"
    )
    notes = ("The schedule could not be paused: 403 forbidden", *ids)
    yield "pause-failed", pause_failed, (who, it, "canceling"), notes
    no_incident = make_op(sync_name=name, incident_error="not_in_channel", cancel_sent_at=sent)
    notes = ("The incident channel notice failed: not_in_channel", *ids)
    yield "incident-failed", no_incident, (who, it, "canceling"), notes


def _op_cases(name: str | None) -> dict[str, list[Case]]:
    where = f"<#{CHANNEL}>"
    cases: dict[str, list[Case]] = {}
    for _key, op, facts, notes in _op_states(name):
        bare_notes = tuple(n for n in notes if not n.startswith(("Canceling for", "1,234 rows so far")))
        cases.setdefault("status_message", []).append((messages.status_message(op, NOW), facts + notes))
        cases["status_message"].append((messages.status_message(op, NOW, progress=False), facts + bare_notes))
        cases.setdefault("incident_outcome", []).append((messages.incident_outcome(op, NOW), (*facts, where)))
        cases.setdefault("requester_note", []).append((messages.requester_note(op, NOW), facts))
        notice = (facts[0], facts[1], "requested cancellation", where, SYNC_ID, EXEC_ID)
        cases.setdefault("incident_notice", []).append((messages.incident_notice(op), notice))
    escalated = make_op(sync_name=name, created_at=NOW - timedelta(minutes=31), escalated_at=NOW)
    uninvited = make_op(sync_name=name, status_error="not_in_channel")
    who, it = f"<@{REQUESTER}>", shown(name)
    cases["incident_escalation"] = [
        (
            messages.incident_escalation(escalated, NOW),
            (who, it, where, "still canceling after 31 minutes", "Polytomic has not stopped the run yet"),
        )
    ]
    cases["requester_note"].append((messages.requester_note(uninvited, NOW), (who, it, "/invite me")))
    cases["already_requested"] = [
        (messages.already_requested(make_op(sync_name=name)), (it, who, "already requested", "Nothing more"))
    ]
    denial = Decision(False, "U9", "cancel", SYNC_ID, "no grant", granters=(f"<@{ADMIN}>",))
    stale_ended = messages.stale(make_op(sync_name=name), ended("failed"), False)
    stale_note = messages.stale_note(make_op(sync_name=name), ended("failed"), False)
    cases["stale"] = [
        (stale_ended, (it, "already ended: failed", "<!date^", "Nothing was canceled")),
        (
            messages.stale(make_op(sync_name=name), make_execution(), True),
            (it, "a newer run is going now", "Nothing was canceled", "/polytomic cancel"),
        ),
        (
            messages.stale(make_op(sync_name=name), None, False),
            (it, "no longer running", "Nothing was canceled"),
        ),
    ]
    cases["released"] = [
        (
            messages.released(make_op(sync_name=name, state="rejected", last_error="Polytomic said 403")),
            (it, "not canceled", "Polytomic said 403"),
        ),
        (
            messages.released(make_op(state="denied", last_error=messages.denied_note(denial))),
            ("permission to cancel", f"sync {SYNC_ID}", f"<@{ADMIN}>"),
        ),
        (
            messages.released(make_op(state="stale", last_error=stale_note)),
            (it, "already ended: failed", "Nothing was canceled"),
        ),
        (messages.released(make_op(state="duplicate", last_error=None)), ("Nothing was canceled",)),
    ]
    cases["resumed"] = [(messages.resumed(make_op(sync_name=name)), ("Resumed the schedule of", it))]
    cases["already_resumed"] = [
        (messages.already_resumed(make_op(sync_name=name)), ("schedule of", it, "already resumed"))
    ]
    return cases


def _sync_cases(name: str | None) -> dict[str, list[Case]]:
    sync = make_sync(name, target_object="Contact")
    it = shown(name)
    idle = SyncStatus(None, ended("failed", errors=("bad credentials",)), NOW + timedelta(hours=1))
    running = SyncStatus(make_execution(), ended("completed"), None)
    never = SyncStatus(None, None, None)
    paused = Sync(id=SYNC_ID, name=name, active=False)
    prompt_facts = (it, "is running", "Cancel it?", "Status: running", "1,234 rows", "<!date^", EXEC_ID)
    return {
        "cancel_prompt": [
            (messages.cancel_prompt(sync, make_execution(), EXEC_ID), prompt_facts),
            (messages.cancel_prompt(sync, make_execution(), EXEC_ID, may_pause=True), prompt_facts),
        ],
        "nothing_running": [
            (
                messages.nothing_running(sync, idle),
                (it, "is not running", "nothing to cancel", "Last run: failed", "bad credentials", "Next"),
            ),
            (messages.nothing_running(paused, never), (it, "not running", "has not run yet", "paused")),
        ],
        "sync_status": [
            (messages.sync_status(sync, idle), (it, "is not running", "Last run: failed", "bad credentials")),
            (
                messages.sync_status(sync, running),
                (it, "is running", "Status: running", "1,234 rows", "Last run: completed", SYNC_ID),
            ),
        ],
        "pick_sync": [
            (
                messages.pick_sync([sync, Sync(id=NEXT_EXEC, name=name)], "cancel", name or "x"),
                ("2 syncs are named", escape(name or "x"), SYNC_ID, NEXT_EXEC, "Contact"),
            )
        ],
        "no_such_name": [(messages.no_such_name(name or "x"), ("No sync is named", escape(name or "x")))],
        "why": [
            (
                messages.why(
                    [
                        Decision(
                            True, "UALICE", "cancel", SYNC_ID, "grant #3: <@UALICE> may cancel on sync `x`", 3
                        ),
                        Decision(False, "UALICE", "pause", SYNC_ID, "no grant", granters=(f"<@{ADMIN}>",)),
                    ],
                    sync,
                ),
                (it, "cancel: allowed by grant #3: <@UALICE>", "pause: not allowed", f"<@{ADMIN}>"),
            )
        ],
        "sync_list": [
            (
                messages.sync_list(
                    [
                        messages.SyncLine(sync, make_execution(), may_cancel=True),
                        messages.SyncLine(paused, None),
                        messages.SyncLine(Sync(id=NEXT_EXEC, name=name), None, error="timeout"),
                    ],
                    running_only=False,
                    hidden=2,
                    now=NOW,
                ),
                (
                    "5 syncs",
                    it,
                    "Contact",
                    "running for 4 min",
                    "schedule paused",
                    "status unknown (timeout)",
                    "2 more not shown",
                ),
            ),
            (messages.sync_list([], running_only=True, hidden=0, now=NOW), ("No sync is running",)),
            (messages.sync_list([], running_only=False, hidden=0, now=NOW), ("Polytomic has no syncs",)),
        ],
    }


def _other_cases() -> dict[str, list[Case]]:
    rules = [Rule(1, "user", "UALICE", "cancel", "*"), Rule(2, "usergroup", "S9", "admin", SYNC_ID)]
    every = frozenset({"cancel", "pause", "admin"})
    event = AuditEvent(
        at=NOW,
        actor="UALICE",
        action="cancel.confirm",
        sync_id=SYNC_ID,
        decision="allowed",
        rule="BOT_ADMINS",
    )
    outcome = AuditEvent(at=NOW, actor="bot", action="cancel", sync_id=SYNC_ID, outcome=EVIL)
    denial = Decision(False, "U9", "cancel", SYNC_ID, "no grant", granters=(f"<@{ADMIN}>", "<!subteam^SOPS>"))
    cases: dict[str, list[Case]] = {
        "plain": [
            (
                messages.plain(f"{messages.bold('Done')}: {messages.code('x')} for <@UALICE>."),
                ("Done: x for <@UALICE>.",),
            ),
            (messages.plain("\n".join(f"line {i} " + "y" * 200 for i in range(40))), ("line 0", "line 39")),
        ],
        "usage": [
            (
                messages.usage(Invalid("`cancel` needs a sync.", USAGE["cancel"])),
                ("cancel needs a sync.", escape(USAGE["cancel"]), "/polytomic help"),
            )
        ],
        "help_view": [
            (messages.help_view(every), (*(escape(USAGE[v]) for v in USAGE), "Cancel and pause")),
            (messages.help_view(frozenset()), (escape(USAGE["status"]), "ask a bot admin for the cancel")),
        ],
        "denied": [
            (
                messages.denied(denial),
                ("permission to cancel", f"cancel on sync {SYNC_ID}", "<@UADMIN>", "<!subteam^SOPS>"),
            ),
            (messages.denied(Decision(False, "U9", "admin", None, "no grant")), ("admin on *", "BOT_ADMINS")),
        ],
        "polytomic_failure": [
            (
                messages.polytomic_failure(NotFound("no such sync", status=404), SYNC_ID),
                (SYNC_ID, "no such sync"),
            ),
            (
                messages.polytomic_failure(Unauthorized("bad key", status=401), SYNC_ID),
                ("401", "POLYTOMIC_API_KEY"),
            ),
            (messages.polytomic_failure(Forbidden("no", status=403), SYNC_ID), ("403", "POLYTOMIC_API_KEY")),
            (
                messages.polytomic_failure(RateLimited("slow down"), SYNC_ID),
                ("nothing was changed", "slow down"),
            ),
            (messages.polytomic_failure(Unavailable("timeout"), None), ("nothing was changed", "timeout")),
            (messages.polytomic_failure(Conflict(EVIL, status=409), None), ("409", escape(EVIL))),
        ],
        "invalid_button": [(messages.invalid_button(), ("not valid any more", "/polytomic cancel"))],
        "groups_unavailable": [(messages.groups_unavailable(), ("couldn't check your Slack user groups",))],
        "not_recorded": [(messages.not_recorded(), ("database unavailable", "Nothing was sent"))],
        "retry_sent": [(messages.retry_sent(), ("Sending the cancel to Polytomic again",))],
        "retry_refused": [(messages.retry_refused(), ("already retried", "Nothing more was sent"))],
        "grants_list": [
            (
                messages.grants_list(rules, frozenset({ADMIN})),
                (
                    "Permissions",
                    f"<@{ADMIN}>",
                    "grant #1: <@UALICE> may cancel on every sync",
                    "<!subteam^S9>",
                    SYNC_ID,
                ),
            ),
            (messages.grants_list([], frozenset()), ("No grants yet", escape(USAGE["grant"]))),
        ],
        "grant_changed": [
            (
                messages.grant_changed("grant", "<@UALICE>", "cancel", SYNC_ID, True),
                ("<@UALICE> may now cancel", SYNC_ID),
            ),
            (
                messages.grant_changed("grant", "<@UALICE>", "cancel", "*", False),
                ("<@UALICE> already had cancel", "every sync"),
            ),
            (
                messages.grant_changed("revoke", "<!subteam^S9>", "admin", SYNC_ID, True),
                ("<!subteam^S9> no longer has admin",),
            ),
            (
                messages.grant_changed("revoke", "<@UALICE>", "pause", "*", False),
                ("had no pause grant", "nothing changed"),
            ),
        ],
        "audit_view": [
            (
                messages.audit_view([event, outcome], None),
                (
                    "Audit trail",
                    "<!date^",
                    "<@UALICE>",
                    "cancel.confirm",
                    f"sync {SYNC_ID}",
                    "allowed (BOT_ADMINS)",
                    escape(EVIL),
                ),
            ),
            (messages.audit_view([], SYNC_ID), ("Nothing in the audit trail", SYNC_ID)),
        ],
    }
    return cases


def every_case(name: str | None) -> dict[str, list[Case]]:
    cases = {**_op_cases(name), **_sync_cases(name), **_other_cases()}
    return cases


def view_functions() -> set[str]:
    """Every public function of bot.messages that renders a View."""
    return {
        name
        for name, function in inspect.getmembers(messages, inspect.isfunction)
        if function.__module__ == messages.__name__
        and not name.startswith("_")
        and get_type_hints(function).get("return") is View
    }


def _norm(text: str) -> str:
    """Text without the characters emphasis and icons add, to compare blocks with text."""
    for icon in messages.ICONS:
        text = text.replace(icon + " ", "")
    return text.replace("*", "").replace("`", "")


def _mrkdwn_strings(view: View) -> list[str]:
    return [d["text"] for d in _dicts(view.blocks) if d.get("type") == "mrkdwn"]


def test_every_view_function_has_cases() -> None:
    """A new view without a case here fails: add it to the cases below."""
    assert set(every_case(None)) == view_functions()


@pytest.mark.parametrize("name", NAMES, ids=["named", "unnamed", "hostile", "markup"])
def test_every_views_text_carries_the_facts_of_its_blocks(name: str | None) -> None:
    problems: list[str] = []
    for function, cases in every_case(name).items():
        for number, (view, facts) in enumerate(cases):
            key = f"{function}[{number}]"
            if not view.text.strip() or not view.blocks:
                problems.append(f"{key}: empty")
            problems += [f"{key}: text lacks {fact!r}" for fact in facts if fact not in view.text]
            block_text = "\n".join(_mrkdwn_strings(view))
            # Every mention and date in the blocks is in the text too...
            problems += [f"{key}: text lacks {t!r}" for t in _TOKEN.findall(block_text) if t not in view.text]
            # ...and so is every line the blocks show, emphasis aside.
            text = _norm(view.text)
            problems += [
                f"{key}: text lacks the line {line!r}"
                for line in _norm(block_text).split("\n")
                if line not in text
            ]
            # The text is mrkdwn to Slack: escaped, with no markup but mentions and dates.
            if found := unescaped(view.text):
                problems.append(f"{key}: unescaped {found} in {view.text!r}")
            stray = _TOKEN.sub("", _ALLOWED_TOKEN.sub("", view.text))
            if "<" in stray or ">" in stray:
                problems.append(f"{key}: markup in {view.text!r}")
    assert problems == []


def test_the_text_is_plain_words() -> None:
    """No emphasis, code or emoji from the views in the text (a name without markup)."""
    problems = []
    for function, cases in every_case(PLAIN_NAME).items():
        for number, (view, _facts) in enumerate(cases):
            text = view.text.replace(escape(EVIL), "")  # a few cases quote the hostile payload
            if "`" in text or _BOLD_SPAN.search(text) or any(icon in text for icon in messages.ICONS):
                problems.append(f"{function}[{number}]: {text!r}")
            if any(char in view.text + json.dumps(view.blocks) for char in "\x02\x03\x04"):
                problems.append(f"{function}[{number}]: a marker leaked")
    assert problems == []
    # The blocks still show emphasis: the name in bold, IDs as code, the state in bold.
    canceled = messages.status_message(make_op(state="canceled", sync_name=PLAIN_NAME), NOW)
    assert f"*{PLAIN_NAME}*" in canceled.blocks[0]["text"]["text"]
    assert "*canceled*" in canceled.blocks[0]["text"]["text"]
    assert f"`{SYNC_ID}`" in canceled.blocks[1]["elements"][0]["text"]
    assert ":rotating_light: " in messages.incident_notice(make_op()).blocks[0]["text"]["text"]


def test_a_released_click_shows_the_note_kept_on_its_row_as_it_was_rendered() -> None:
    op = make_op(sync_name="Orders")
    kept = make_op(state="stale", last_error=messages.stale_note(op, ended("completed"), False))
    assert messages.released(kept) == messages.stale(op, ended("completed"), False)
    assert "*completed*" in messages.released(kept).blocks[0]["text"]["text"]
    decision = Decision(False, "U9", "cancel", SYNC_ID, "no grant")
    denied = make_op(state="denied", last_error=messages.denied_note(decision))
    assert messages.released(denied) == messages.denied(decision)


def test_supplied_text_cannot_forge_emphasis() -> None:
    view = messages.status_message(make_op(sync_name="a\x02b\x03c\x04d\x00e"), NOW)
    assert "abcde" in view.text and "*abcde*" in view.blocks[0]["text"]["text"]


def test_state_words_are_not_confused() -> None:
    views = {key: messages.status_message(op, NOW) for key, op, _facts, _notes in _op_states("Orders")}
    assert "not canceled" not in views["canceled"].text
    assert "still" not in views["canceling"].text
    assert "canceled" not in views["completed"].text
    running = SyncStatus(make_execution(), ended("completed"), None)
    assert "not running" not in messages.sync_status(make_sync("Orders"), running).text


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_name_falls_back_to_the_id(blank: str) -> None:
    view = messages.status_message(make_op(sync_name=blank), NOW)
    assert SYNC_ID in view.text.split("\n")[0]
    assert f"`{SYNC_ID}`" in view.blocks[0]["text"]["text"]


def test_the_outcome_headlines_carry_the_facts() -> None:
    op = make_op(
        state=State.CANCELED.value,
        cancel_sent_at=NOW - timedelta(seconds=50),
        execution_ended_at=NOW - timedelta(seconds=5),
        rows_written=1234,
    )
    view = messages.status_message(op, NOW)
    headline = view.blocks[0]["text"]["text"]
    assert headline == (
        f"<@{REQUESTER}> requested cancellation of *Orders to Salesforce*: *canceled* after 45 seconds, "
        "1,234 rows written before it stopped."
    )
    assert view.text.split("\n")[0] == headline.replace("*", "")
    failed = make_op(state=State.FAILED.value, execution_errors="destination quota exceeded")
    assert "destination quota exceeded" in messages.status_message(failed, NOW).blocks[0]["text"]["text"]


def test_the_incident_notice_says_who_which_and_where() -> None:
    view = messages.incident_notice(make_op())
    assert view.text == (
        f"<@{REQUESTER}> requested cancellation of Orders to Salesforce in <#{CHANNEL}>.\n"
        f"Sync {SYNC_ID} · execution {EXEC_ID}"
    )


def test_a_huge_text_is_cut_at_a_line() -> None:
    view = messages.plain("\n".join(f"<@U{i:05d}> " + "z" * 2900 for i in range(49)))
    assert len(view.text) <= messages.TEXT_LIMIT + 2
    assert view.text.endswith("\n…")
    assert all(line.startswith("<@U") and line.endswith("z") for line in view.text.split("\n")[:-1])
    assert len(view.blocks) <= 50


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
    assert f"you need `cancel` on sync `{SYNC_ID}` (or on `*`)" in view.blocks[0]["text"]["text"]
    assert f"you need cancel on sync {SYNC_ID} (or on *)" in view.text
    assert "<@UADMIN>" in view.text and "<!subteam^SOPS>" in view.text
    nobody = messages.denied(Decision(False, "U9", "admin", None, "no grant"))
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
    assert view.blocks[0]["text"]["text"].startswith(
        "`cancel` takes one sync.\nUsage: `/polytomic cancel &lt;"
    )
    assert view.text.startswith("cancel takes one sync.\nUsage: /polytomic cancel &lt;")
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
