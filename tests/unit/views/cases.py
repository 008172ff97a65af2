"""The inputs every view test renders: rows, executions and syncs in every state, the hostile
payload, and the cases of every view function with the facts its text must carry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.commands import ACTIONS, USAGE, Invalid
from bot.db.models import AuditEvent, Operation, Stop, Subscription
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
from bot.stops import Tally
from bot.views import access, blocks, home, incident, prompts, replies, status, syncs
from bot.views import notes as row_notes
from bot.views.blocks import View, escape

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
    """How a view names the sync: its name as it may be shown (emphasis marks swapped for
    look-alikes), escaped, or its ID."""
    return escape(blocks.name_text(name)) if name else SYNC_ID


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
        cases.setdefault("status_message", []).append((status.status_message(op, NOW), facts + notes))
        cases["status_message"].append((status.status_message(op, NOW, progress=False), facts + bare_notes))
        cases.setdefault("incident_outcome", []).append((incident.incident_outcome(op, NOW), (*facts, where)))
        cases.setdefault("requester_note", []).append((status.requester_note(op, NOW), facts))
        notice = (facts[0], facts[1], "requested cancellation", where, SYNC_ID, EXEC_ID)
        cases.setdefault("incident_notice", []).append((incident.incident_notice(op), notice))
    escalated = make_op(sync_name=name, created_at=NOW - timedelta(minutes=31), escalated_at=NOW)
    uninvited = make_op(sync_name=name, status_error="not_in_channel")
    who, it = f"<@{REQUESTER}>", shown(name)
    cases["incident_escalation"] = [
        (
            incident.incident_escalation(escalated, NOW),
            (who, it, where, "still canceling after 31 minutes", "Polytomic has not stopped the run yet"),
        )
    ]
    cases["requester_note"].append((status.requester_note(uninvited, NOW), (who, it, "/invite me")))
    failing = {"attempts": 3, "last_error": f"Polytomic unreachable: {EVIL}"}
    sending = make_op(sync_name=name, **failing)
    following = make_op(sync_name=name, cancel_sent_at=NOW - timedelta(seconds=30), **failing)
    checking = make_op(sync_name=name, state=State.CONFIRMED.value, **failing)
    trouble = ("has failed 3 times in a row", escape(EVIL), "I keep trying")
    cases["stuck_note"] = [
        (status.stuck_note(sending, NOW), (who, it, "Trying to send the cancel", *trouble)),
        (status.stuck_note(following, NOW), (who, it, "Trying to follow the run", *trouble)),
        (status.stuck_note(checking, NOW), (it, "not going through yet", "check and record", *trouble)),
    ]
    cases["status_message"].append((status.status_message(sending, NOW), (who, it, "canceling", *trouble)))
    cases["already_requested"] = [
        (replies.already_requested(make_op(sync_name=name)), (it, who, "already requested", "Nothing more"))
    ]
    denial = Decision(False, "U9", "cancel", SYNC_ID, "no grant", granters=(f"<@{ADMIN}>",))
    stale_ended = replies.stale(make_op(sync_name=name), ended("failed"), False)
    stale_note = row_notes.stale_note(make_op(sync_name=name), ended("failed"), False)
    cases["stale"] = [
        (stale_ended, (it, "already ended: failed", "<!date^", "Nothing was canceled")),
        (
            replies.stale(make_op(sync_name=name), make_execution(), True),
            (it, "a newer run is going now", "Nothing was canceled", "/polytomic cancel"),
        ),
        (
            replies.stale(make_op(sync_name=name), None, False),
            (it, "no longer running", "Nothing was canceled"),
        ),
    ]
    cases["released"] = [
        (
            replies.released(make_op(sync_name=name, state="rejected", last_error="Polytomic said 403")),
            (it, "not canceled", "Polytomic said 403"),
        ),
        (
            replies.released(make_op(state="denied", last_error=row_notes.denied_note(denial))),
            ("permission to cancel", f"sync {SYNC_ID}", f"<@{ADMIN}>"),
        ),
        (
            replies.released(make_op(state="stale", last_error=stale_note)),
            (it, "already ended: failed", "Nothing was canceled"),
        ),
        (replies.released(make_op(state="duplicate", last_error=None)), ("Nothing was canceled",)),
    ]
    cases["resumed"] = [(replies.resumed(make_op(sync_name=name)), ("Resumed the schedule of", it))]
    cases["already_resumed"] = [
        (replies.already_resumed(make_op(sync_name=name)), ("schedule of", it, "already resumed"))
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
            (prompts.cancel_prompt(sync, make_execution(), EXEC_ID), prompt_facts),
            (prompts.cancel_prompt(sync, make_execution(), EXEC_ID, may_pause=True), prompt_facts),
        ],
        "nothing_running": [
            (
                syncs.nothing_running(sync, idle),
                (it, "is not running", "nothing to cancel", "Last run: failed", "bad credentials", "Next"),
            ),
            (syncs.nothing_running(paused, never), (it, "not running", "has not run yet", "paused")),
        ],
        "sync_status": [
            (syncs.sync_status(sync, idle), (it, "is not running", "Last run: failed", "bad credentials")),
            (
                syncs.sync_status(sync, running),
                (it, "is running", "Status: running", "1,234 rows", "Last run: completed", SYNC_ID),
            ),
        ],
        "pick_sync": [
            (
                prompts.pick_sync([sync, Sync(id=NEXT_EXEC, name=name)], "cancel", name or "x"),
                ("2 syncs are named", shown(name or "x"), SYNC_ID, NEXT_EXEC, "Contact"),
            )
        ],
        "no_such_name": [(syncs.no_such_name(name or "x"), ("No sync is named", shown(name or "x")))],
        "too_many_to_search": [
            (
                syncs.too_many_to_search(name or "x", 1000, "cancel"),
                ("Too many syncs to search by name; use the ID", "1,000", "/polytomic cancel"),
            )
        ],
        "why": [
            (
                access.why(
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
                syncs.sync_list(
                    [syncs.SyncLine(sync, None)], running_only=False, hidden=0, now=NOW, age=12.4
                ),
                ("1 syncs", it, "As Polytomic said 12 seconds ago", "/polytomic status"),
            ),
            (
                syncs.sync_list(
                    [
                        syncs.SyncLine(sync, make_execution(), may_cancel=True),
                        syncs.SyncLine(paused, None),
                        syncs.SyncLine(Sync(id=NEXT_EXEC, name=name), None, error="timeout"),
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
            (syncs.sync_list([], running_only=True, hidden=0, now=NOW), ("No sync is running",)),
            (syncs.sync_list([], running_only=False, hidden=0, now=NOW), ("Polytomic has no syncs",)),
        ],
    }


def _other_cases() -> dict[str, list[Case]]:
    rules = [Rule(1, "user", "UALICE", "cancel", "*"), Rule(2, "usergroup", "S9", "admin", SYNC_ID)]
    every = frozenset(ACTIONS)
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
                blocks.plain(f"{blocks.bold('Done')}: {blocks.code('x')} for <@UALICE>."),
                ("Done: x for <@UALICE>.",),
            ),
            (blocks.plain("\n".join(f"line {i} " + "y" * 200 for i in range(40))), ("line 0", "line 39")),
        ],
        "usage": [
            (
                replies.usage(Invalid("`cancel` needs a sync.", USAGE["cancel"])),
                ("cancel needs a sync.", escape(USAGE["cancel"]), "/polytomic help"),
            )
        ],
        "help_view": [
            (replies.help_view(every), (*(escape(USAGE[v]) for v in USAGE), "Cancel and pause")),
            (replies.help_view(frozenset()), (escape(USAGE["status"]), "ask a bot admin for the cancel")),
        ],
        "denied": [
            (
                replies.denied(denial),
                ("permission to cancel", f"cancel on sync {SYNC_ID}", "<@UADMIN>", "<!subteam^SOPS>"),
            ),
            (replies.denied(Decision(False, "U9", "admin", None, "no grant")), ("admin on *", "BOT_ADMINS")),
        ],
        "polytomic_failure": [
            (
                replies.polytomic_failure(NotFound("no such sync", status=404), SYNC_ID),
                (SYNC_ID, "no such sync"),
            ),
            (
                replies.polytomic_failure(Unauthorized("bad key", status=401), SYNC_ID),
                ("401", "POLYTOMIC_API_KEY"),
            ),
            (replies.polytomic_failure(Forbidden("no", status=403), SYNC_ID), ("403", "POLYTOMIC_API_KEY")),
            (
                replies.polytomic_failure(RateLimited("slow down"), SYNC_ID),
                ("nothing was changed", "slow down"),
            ),
            (replies.polytomic_failure(Unavailable("timeout"), None), ("nothing was changed", "timeout")),
            (replies.polytomic_failure(Conflict(EVIL, status=409), None), ("409", escape(EVIL))),
        ],
        "invalid_button": [(replies.invalid_button(), ("not valid any more", "/polytomic cancel"))],
        "groups_unavailable": [(replies.groups_unavailable(), ("couldn't check your Slack user groups",))],
        "not_recorded": [(replies.not_recorded(), ("database unavailable", "Nothing was sent"))],
        "recorded_in_doubt": [
            (
                replies.recorded_in_doubt("sync-1"),
                ("can't tell whether that was recorded", "/polytomic status sync-1"),
            ),
            (replies.recorded_in_doubt(check="/polytomic grants"), ("can't tell", "/polytomic grants")),
        ],
        "not_changed_database": [(replies.not_changed_database(), ("nothing was changed",))],
        "database_failure": [
            (replies.database_failure(), ("couldn't reach the database", "/polytomic status"))
        ],
        "answer_failed": [(replies.answer_failed(), ("Something went wrong", "log"))],
        "retry_sent": [(replies.retry_sent(), ("Sending the cancel to Polytomic again",))],
        "retry_refused": [(replies.retry_refused(), ("already retried", "Nothing more was sent"))],
        "grants_list": [
            (
                access.grants_list(rules, frozenset({ADMIN})),
                (
                    "Permissions",
                    f"<@{ADMIN}>",
                    "grant #1: <@UALICE> may cancel on every sync",
                    "<!subteam^S9>",
                    SYNC_ID,
                ),
            ),
            (access.grants_list([], frozenset()), ("No grants yet", escape(USAGE["grant"]))),
        ],
        "grant_changed": [
            (
                access.grant_changed("grant", "<@UALICE>", "cancel", SYNC_ID, True),
                ("<@UALICE> may now cancel", SYNC_ID),
            ),
            (
                access.grant_changed("grant", "<@UALICE>", "cancel", "*", False),
                ("<@UALICE> already had cancel", "every sync"),
            ),
            (
                access.grant_changed("revoke", "<!subteam^S9>", "admin", SYNC_ID, True),
                ("<!subteam^S9> no longer has admin",),
            ),
            (
                access.grant_changed("revoke", "<@UALICE>", "pause", "*", False),
                ("had no pause grant", "nothing changed"),
            ),
        ],
        "audit_view": [
            (
                access.audit_view([event, outcome], None),
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
            (access.audit_view([], SYNC_ID), ("Nothing in the audit trail", SYNC_ID)),
        ],
    }
    return cases


def _home_cases(name: str | None) -> dict[str, list[Case]]:
    it = shown(name)
    other = Sync(id=NEXT_EXEC, name="Someone else's")
    running = (
        home.RunningSync(make_sync(name), make_execution(), may_cancel=True),
        home.RunningSync(other, make_execution(id=NEXT_EXEC), may_cancel=False),
    )
    done = make_op(state=State.CANCELED.value, sync_name=name, status_ts="1700000000.000100", rows_written=7)
    asked = make_op(sync_name=name)
    held = home.RunningSync(make_sync(name), make_execution(), may_cancel=True, held_by=asked)
    grants = (Rule(1, "user", REQUESTER, "cancel", "*"), Rule(2, "usergroup", "SOPS", "pause", SYNC_ID))
    sub = Subscription(
        id=1,
        channel_id="CSUBS1",
        scope_kind="sync",
        scope_id=SYNC_ID,
        scope_name=name,
        mode="failures",
        created_by="UOTHER1",
        disabled_at=NOW,
        disabled_reason="channel_not_found",
    )
    start = make_op(kind="start", state=State.RUNNING.value, sync_name=name, thread_ts="1700000000.000050")
    stop = Stop(
        id=7,
        prompt_id="p7",
        kind="cancel",
        label=f"to {name or 'Salesforce prod'}",
        requested_by=REQUESTER,
        channel_id=CHANNEL,
        size=3,
        created_at=NOW - timedelta(minutes=3),
        final_at=NOW,
        aborted_at=NOW,
        summary_ts="1700000000.000300",
    )
    full = home.HomeData(
        user_id=REQUESTER,
        grants=grants,
        running=running,
        operations=(done, make_op(state=State.DENIED.value, sync_name=name), start),
        workspace_url="https://fake-team.slack.com/",
        age=20,
        subscriptions=(sub,),
        stops=((stop, Tally(size=3, canceled=2, not_sent=1)),),
    )
    return {
        "home": [
            (
                home.home(full, NOW),
                (
                    f"Polytomic for <@{REQUESTER}>",
                    "Running syncs you may cancel",
                    it,
                    "1 running sync you may not cancel",
                    "Your last operations",
                    "canceled after",
                    "not sent: you lacked the permission",
                    "Your permissions",
                    "cancel on every sync (granted to you)",
                    f"pause on sync {SYNC_ID} (granted to <!subteam^SOPS>)",
                    "Subscriptions you can manage",
                    "<#CSUBS1>",
                    "by <@UOTHER1>",
                    "disabled",
                    "Start",
                    ": running",
                    "Stopped 3 syncs",
                    "2 canceled, 1 not sent (aborted)",
                    "The rest was aborted.",
                ),
            ),
            (
                home.home(home.HomeData(user_id=REQUESTER, granters=(f"<@{ADMIN}>",)), NOW),
                ("You hold no permission yet", f"<@{ADMIN}>", "/polytomic grant"),
            ),
            (
                home.home(home.HomeData(user_id=REQUESTER, is_admin=True, running=(held,)), NOW),
                ("bot admin", it, "Cancel asked by", "canceling", "have not asked me"),
            ),
            (
                home.home(home.HomeData(user_id=REQUESTER, is_admin=True, running_error=EVIL), NOW),
                ("couldn't read the running syncs", escape(EVIL)),
            ),
        ]
    }


def every_case(name: str | None) -> dict[str, list[Case]]:
    from tests.unit.views.alert_cases import alert_cases  # the alerts' views (issue 14)
    from tests.unit.views.stop_cases import stop_cases  # bot/views/stops.py (issue 15)

    cases = {
        **_op_cases(name),
        **_sync_cases(name),
        **_other_cases(),
        **alert_cases(name),
        **stop_cases(),
        **_home_cases(name),
    }
    return cases


# ---- nothing user- or Polytomic-supplied lands unescaped ------------------------------------


def evil_views() -> dict[str, View]:
    sync = make_sync(EVIL)
    errors = (EVIL,)
    idle = SyncStatus(None, ended("failed", errors=errors), NOW + timedelta(hours=1))
    running = SyncStatus(make_execution(EVIL), ended("failed", errors=errors), None)
    views: dict[str, View] = {
        "nothing_running": syncs.nothing_running(sync, idle),
        "sync_status:idle": syncs.sync_status(sync, idle),
        "sync_status:running": syncs.sync_status(sync, running),
        "cancel_prompt": prompts.cancel_prompt(sync, make_execution(EVIL), EXEC_ID),
        "stale:ended": replies.stale(make_op(sync_name=EVIL), ended(EVIL), False),
        "stale:superseded": replies.stale(make_op(sync_name=EVIL), make_execution(), True),
        "already_requested": replies.already_requested(make_op(sync_name=EVIL)),
        "stuck_note": status.stuck_note(make_op(sync_name=EVIL, attempts=3, last_error=EVIL), NOW),
        "released:rejected": replies.released(
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
        views[f"polytomic_failure:{type(error).__name__}"] = replies.polytomic_failure(error, SYNC_ID)
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
        views[f"status_message:{state}"] = status.status_message(op, NOW)
        views[f"status_message:{state}:no-progress"] = status.status_message(op, NOW, progress=False)
        views[f"incident_notice:{state}"] = incident.incident_notice(op)
        views[f"incident_outcome:{state}"] = incident.incident_outcome(op, NOW)
        views[f"requester_note:{state}"] = status.requester_note(op, NOW)
    waiting = make_op(sync_name=EVIL, last_error=EVIL, cancel_sent_at=None)
    views["status_message:waiting-for-polytomic"] = status.status_message(waiting, NOW)
    odd_ids = make_op(requested_by="<!channel>", channel_id="<!here>")
    views["incident_notice:odd-ids"] = incident.incident_notice(odd_ids)
    views["status_message:odd-ids"] = status.status_message(odd_ids, NOW)
    from tests.unit.views.stop_cases import evil_stop_views  # bot/views/stops.py (issue 15)

    views.update({f"stops:{k}": v for k, v in evil_stop_views(EVIL).items()})
    return views


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def _buttons(view: View) -> list[dict[str, Any]]:
    return [d for d in _dicts(view.blocks) if d.get("type") == "button"]
