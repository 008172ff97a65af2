"""Every Slack message the bot sends, rendered here and nowhere else; all escaping lives here.

Each view is a `text` fallback (notifications, screen readers; it names the sync and says the
state in plain words) plus Block Kit blocks. Anything that came from a user or from Polytomic
goes through `escape` before it lands in mrkdwn, so no message can ping a channel or carry a
disguised link. Views of an operation are rendered from its row alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.commands import USAGE, Invalid
from bot.db.models import AuditEvent, Operation
from bot.operations import OUTCOMES, State, elapsed_seconds
from bot.permissions import Decision, Rule
from bot.polytomic import (
    Execution,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    Sync,
    SyncStatus,
    Unauthorized,
    Unavailable,
)

Block = dict[str, Any]

CONFIRM_ACTION = "cancel_confirm"
PAUSE_CONFIRM_ACTION = "cancel_pause_confirm"
DISMISS_ACTION = "cancel_dismiss"
RETRY_ACTION = "cancel_retry"
RESUME_ACTION = "resume_schedule"
PICK_ACTION = "sync_pick"  # one of several syncs with the same name
LIST_CANCEL_ACTION = "list_cancel"  # "Cancel…" next to a running sync in /polytomic list
MAX_LIST = 20  # syncs shown in one /polytomic list answer

MAX_NAME = 150
MAX_ERROR = 500
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


@dataclass(frozen=True)
class View:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def digest(self) -> str:
        """Identifies what the user sees, so an unchanged view is never sent again."""
        payload = json.dumps({"t": self.text, "b": self.blocks}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def escape(text: str) -> str:
    """Slack's mrkdwn control characters; `<!channel>` becomes inert `&lt;!channel&gt;`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user(user_id: str) -> str:
    """A mention of a Slack user ID; anything that is not an ID is shown, escaped, as text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)


def sync_label(name: str | None, sync_id: str) -> str:
    """mrkdwn for a sync: its name in bold when known, else its ID in code."""
    if name and name.strip():
        return f"*{escape(_clip(name.strip(), MAX_NAME))}*"
    return f"`{escape(sync_id)}`"


def sync_plain(name: str | None, sync_id: str) -> str:
    """The same for the text fallback (still mrkdwn-parsed by Slack, so still escaped)."""
    if name and name.strip():
        return escape(_clip(name.strip(), MAX_NAME))
    return escape(sync_id)


def when(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    if moment is None:
        return "unknown"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "an unknown time"
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def rows(count: int | None) -> str:
    return "an unknown number of rows" if count is None else f"{count:,} row{'s' if count != 1 else ''}"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _execution_lines(execution: Execution) -> list[str]:
    lines = [f"Status: *{escape(execution.status.value or 'unknown')}*"]
    started = execution.started_at or execution.created_at
    lines.append(f"Started: {when(started)}")
    lines.append(f"Rows so far: {rows(execution.counts.rows_written)}")
    return lines


# ---- the command-time prompt ---------------------------------------------------------


def confirm_value(sync_id: str, execution_id: str) -> str:
    return json.dumps({"s": sync_id, "e": execution_id}, separators=(",", ":"))


def _confirm_dialog(title: str, text: str, confirm: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": _clip(title, 100)},
        "text": {"type": "plain_text", "text": _clip(text, 300)},
        "confirm": {"type": "plain_text", "text": _clip(confirm, 30)},
        "deny": {"type": "plain_text", "text": "Keep it running"},
        "style": "danger",
    }


def cancel_prompt(sync: Sync, execution: Execution, execution_id: str, *, may_pause: bool = False) -> View:
    label = sync_label(sync.name, sync.id)
    plain = sync_plain(sync.name, sync.id)
    value = confirm_value(sync.id, execution_id)
    # plain_text is never parsed for mentions or links, so the name goes in as it is.
    cancel_button = _button("Cancel sync", CONFIRM_ACTION, value, style="danger")
    cancel_button["confirm"] = _confirm_dialog(
        "Cancel this sync run?",
        f"Polytomic will stop the run of {sync.name or sync.id} now. Rows already written stay.",
        "Cancel the run",
    )
    buttons = [cancel_button]
    if may_pause:
        pause_button = _button("Cancel and pause the schedule", PAUSE_CONFIRM_ACTION, value, style="danger")
        pause_button["confirm"] = _confirm_dialog(
            "Cancel the run and pause the schedule?",
            f"Polytomic will stop the run of {sync.name or sync.id} now and start no new scheduled "
            "runs until someone resumes the schedule.",
            "Cancel and pause",
        )
        buttons.append(pause_button)
    buttons.append(_button("Keep running", DISMISS_ACTION, value))
    return View(
        text=f"{plain} is running. Cancel it?",
        blocks=[
            _section(f"{label} is running.\n" + "\n".join(_execution_lines(execution))),
            _context(f"Sync `{escape(sync.id)}` · execution `{escape(execution_id)}`"),
            {
                "type": "actions",
                "block_id": "cancel_prompt",
                "elements": buttons,
            },
        ],
    )


def _last_run_line(status: SyncStatus) -> str:
    last = status.last_execution
    if last is None:
        return "It has not run yet."
    ended = last.completed_at or last.started_at or last.created_at
    outcome = escape(last.status.value or "unknown")
    line = f"Last run: *{outcome}* {when(ended)}, {rows(last.counts.rows_written)}."
    if last.errors:
        line += f"\nError: {escape(_clip(last.errors[0], MAX_ERROR))}"
    return line


def _next_run_line(status: SyncStatus, sync: Sync) -> str:
    if sync.active is False:
        return "Its schedule is paused."
    if status.next_execution_time is None:
        return "No run is scheduled."
    return f"Next scheduled run: {when(status.next_execution_time)}."


def nothing_running(sync: Sync, status: SyncStatus) -> View:
    label = sync_label(sync.name, sync.id)
    return View(
        text=f"{sync_plain(sync.name, sync.id)} is not running: nothing to cancel.",
        blocks=[
            _section(f"{label} is not running: nothing to cancel."),
            _context(_last_run_line(status) + "\n" + _next_run_line(status, sync)),
        ],
    )


def sync_status(sync: Sync, status: SyncStatus) -> View:
    label = sync_label(sync.name, sync.id)
    current = status.current_execution
    if current is not None and not current.status.is_terminal:
        head = f"{label} is running."
        body = "\n".join(_execution_lines(current))
        text = f"{sync_plain(sync.name, sync.id)} is running ({escape(current.status.value)})."
    else:
        head = f"{label} is not running."
        body = ""
        text = f"{sync_plain(sync.name, sync.id)} is not running."
    details = [_last_run_line(status), _next_run_line(status, sync)]
    return View(
        text=text,
        blocks=[
            _section(head + ("\n" + body if body else "")),
            _context("\n".join(details) + f"\nSync `{escape(sync.id)}`"),
        ],
    )


# ---- answers to the requester --------------------------------------------------------


SECTION_LIMIT = 3000  # characters Slack allows in one section's text


def plain(text: str) -> View:
    """An answer whose text is already safe mrkdwn, in as many sections as Slack needs."""
    blocks: list[Block] = []
    chunk = ""
    for line in text.split("\n"):
        line = _clip(line, SECTION_LIMIT)
        if chunk and len(chunk) + 1 + len(line) > SECTION_LIMIT:
            blocks.append(_section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    blocks.append(_section(chunk or " "))
    return View(text=text, blocks=blocks[:50])


def usage(invalid: Invalid) -> View:
    # Placeholders such as <sync ID> would be read by Slack as links: escaped like everything else.
    return plain(
        f"{invalid.problem}\nUsage: `{escape(invalid.usage)}`\nSee `/polytomic help` for every command."
    )


EXAMPLE_ID = "248df4b7-aa70-47b8-a036-33ac447e668d"

# (subcommand, the permission it needs somewhere, what it does, an example)
HELP: tuple[tuple[str, str | None, str, str], ...] = (
    (
        "cancel",
        "cancel",
        "show the running execution and offer to cancel it",
        f"/polytomic cancel {EXAMPLE_ID}",
    ),
    ("list", None, "the syncs, or only those running, with a cancel button", "/polytomic list running"),
    (
        "status",
        None,
        "the current and last run, and the next scheduled one",
        '/polytomic status "Nightly orders"',
    ),
    (
        "why",
        None,
        "which grant lets you cancel a sync, or which one is missing",
        f"/polytomic why {EXAMPLE_ID}",
    ),
    ("audit", "cancel", "recent decisions and outcomes, newest first", f"/polytomic audit {EXAMPLE_ID}"),
    ("grant", "admin", "give a permission", f"/polytomic grant @data-oncall cancel {EXAMPLE_ID}"),
    ("revoke", "admin", "take a permission back", "/polytomic revoke @alice cancel *"),
    ("grants", None, "who may do what", "/polytomic grants"),
    ("help", None, "this list", "/polytomic help"),
)


def help_view(capabilities: frozenset[str]) -> View:
    """The subcommands this person may run, each with an example."""
    lines = ["*/polytomic* stops a misbehaving Polytomic sync from Slack. What you can run:"]
    for name, needs, what, example in HELP:
        if needs is None or needs in capabilities:
            lines.append(f"• `{escape(USAGE[name])}`: {what}. Example: `{escape(example)}`")
    if {"cancel", "pause"} <= capabilities:
        lines.append("The cancel prompt also offers *Cancel and pause the schedule*.")
    if "cancel" not in capabilities:
        lines.append(
            "You can't cancel syncs yet: ask a bot admin for the `cancel` permission (`/polytomic grants`)."
        )
    return plain("\n".join(lines))


def denied(decision: Decision) -> View:
    who = ", ".join(decision.granters) if decision.granters else "a bot admin (BOT_ADMINS)"
    text = (
        f"You don't have permission to {decision.action} here: you need {decision.missing}. "
        f"Who can grant it: {who}."
    )
    return plain(text)


def polytomic_failure(error: PolytomicError, sync_id: str | None) -> View:
    """What a Polytomic error means for the user, naming the setting when it is the bot's key."""
    detail = f" Polytomic said: {escape(_clip(error.message, MAX_ERROR))}" if error.message else ""
    target = f"`{escape(sync_id)}`" if sync_id else "that"
    if isinstance(error, NotFound):
        return plain(f"Polytomic has no sync {target}. Check the ID or URL.{detail}")
    if isinstance(error, Unauthorized):
        return plain(
            "Polytomic rejected the bot's API key (401). An operator must fix the bot's "
            f"POLYTOMIC_API_KEY (or POLYTOMIC_DEPLOYMENT_KEY) setting.{detail}"
        )
    if isinstance(error, Forbidden):
        return plain(
            "The bot's Polytomic key is not allowed to do that (403). An operator must give the "
            f"key set in POLYTOMIC_API_KEY more rights in Polytomic.{detail}"
        )
    if isinstance(error, RateLimited | Unavailable):
        return plain(
            "I couldn't reach Polytomic after several tries, so nothing was changed. "
            f"Try again in a minute.{detail}"
        )
    return plain(f"Polytomic refused the request ({error.status or 'error'}).{detail}")


def already_requested(op: Operation) -> View:
    label = sync_label(op.sync_name, op.sync_id)
    return plain(
        f"A cancellation of {label} was already requested by {user(op.requested_by)}; "
        "follow it in the channel. Nothing more was sent."
    )


def stale(op: Operation, execution: Execution | None, superseded: bool) -> View:
    label = sync_label(op.sync_name, op.sync_id)
    if superseded:
        text = (
            f"The run you confirmed of {label} has ended and a newer run is going now. "
            "Nothing was canceled. Run `/polytomic cancel` again to see the new run."
        )
    elif execution is not None and execution.status.value:
        ended = execution.completed_at
        text = (
            f"The run you confirmed of {label} already ended: *{escape(execution.status.value)}* "
            f"{when(ended)}. Nothing was canceled."
        )
    else:
        text = f"The run you confirmed of {label} is no longer running. Nothing was canceled."
    return plain(text)


def released(op: Operation) -> View:
    """Why a confirmed cancel was not sent (denied, stale) or not taken (rejected)."""
    reason = op.last_error or "Nothing was canceled."
    if op.state == State.REJECTED:
        label = sync_label(op.sync_name, op.sync_id)
        return plain(f"{label} was *not canceled*. {escape(_clip(reason, MAX_ERROR))}")
    return plain(reason)  # built by this module (denied, stale): already safe mrkdwn


def invalid_button() -> View:
    return plain("That button is not valid any more. Run `/polytomic cancel` again.")


def grants_list(rules: Sequence[Rule], admins: frozenset[str]) -> View:
    lines = ["*Permissions*"]
    if admins:
        lines.append("Bot admins (every permission): " + ", ".join(user(a) for a in sorted(admins)))
    if not rules:
        lines.append("No grants yet. A bot admin can add one with `" + escape(USAGE["grant"]) + "`.")
    for rule in rules:
        lines.append("• " + rule.describe())
    return plain("\n".join(lines))


def grant_changed(verb: str, subject_mention: str, action: str, scope: str, changed: bool) -> View:
    where = "every sync" if scope == "*" else f"sync `{escape(scope)}`"
    if verb == "grant":
        text = (
            f"{subject_mention} may now {action} on {where}."
            if changed
            else f"{subject_mention} already had `{action}` on {where}; nothing changed."
        )
    else:
        text = (
            f"{subject_mention} no longer has `{action}` on {where}."
            if changed
            else f"{subject_mention} had no `{action}` grant on {where}; nothing changed."
        )
    return plain(text)


# ---- the channel status message, rendered from the operation row ---------------------

_OUTCOME_WORDS = {
    State.CANCELED: "canceled",
    State.COMPLETED: "completed",
    State.FAILED: "failed",
    State.INTERRUPTED: "interrupted",
    State.REJECTED: "not canceled",
}


def _headline(op: Operation, now: datetime) -> tuple[str, str]:
    """(mrkdwn headline, plain words of the state) for the status message."""
    label = sync_label(op.sync_name, op.sync_id)
    if op.kind == "cancel_and_pause":
        label += " (and a pause of its schedule)"
    who = user(op.requested_by)
    state = State(op.state)
    took = elapsed_seconds(op.cancel_sent_at or op.created_at, op.execution_ended_at)
    if state is State.CANCELED:
        return (
            f"{who} requested cancellation of {label}: *canceled* after {duration(took)}, "
            f"{rows(op.rows_written)} written before it stopped.",
            "canceled",
        )
    if state is State.COMPLETED:
        return (
            f"{who} requested cancellation of {label}: the run *completed* before the cancel "
            f"took effect ({rows(op.rows_written)} written).",
            "completed",
        )
    if state is State.FAILED:
        error = op.execution_errors or "no error message"
        return (
            f"{who} requested cancellation of {label}: the run *failed* before it could be "
            f"canceled. Polytomic's error: {escape(_clip(error, MAX_ERROR))}",
            "failed",
        )
    if state is State.INTERRUPTED:
        return (
            f"{who} requested cancellation of {label}: the run was *interrupted* "
            f"({rows(op.rows_written)} written).",
            "interrupted",
        )
    if state is State.REJECTED:
        reason = escape(_clip(op.last_error or "unknown error", MAX_ERROR))
        return (f"{who} requested cancellation of {label}: *not canceled*. {reason}", "not canceled")
    waited = elapsed_seconds(op.created_at, now) or 0
    if op.escalated_at is not None:
        return (
            f"{who} requested cancellation of {label}: *still canceling* after "
            f"{max(1, waited // 60)} minute{'s' if waited >= 120 else ''}.",
            "still canceling",
        )
    return (f"{who} requested cancellation of {label}: canceling…", "canceling")


PROGRESS_EVERY = 30.0  # seconds: progress alone (rows, elapsed time) refreshes no faster


def status_message(op: Operation, now: datetime, *, progress: bool = True) -> View:
    """The channel status message. With progress=False, only what changes with the state:
    the tracker edits the message when that part changes, and for progress at most every
    PROGRESS_EVERY seconds."""
    headline, words = _headline(op, now)
    blocks: list[Block] = [_section(headline)]
    notes: list[str] = []
    if op.state == State.CANCELING:
        if op.cancel_sent_at is None and op.last_error:
            notes.append(f"Waiting for Polytomic to take the cancel: {escape(_clip(op.last_error, 200))}")
        elif progress:
            waited = duration(elapsed_seconds(op.created_at, now))
            seen = f" · Polytomic status: {escape(op.polytomic_status)}" if op.polytomic_status else ""
            notes.append(f"Canceling for {waited}{seen} · {rows(op.rows_written)} so far")
    notes.extend(_schedule_notes(op))
    if op.incident_error:
        notes.append(f":warning: The incident channel notice failed: {escape(op.incident_error)}")
    notes.append(f"Sync `{escape(op.sync_id)}` · execution `{escape(op.execution_id)}`")
    blocks.append(_context("\n".join(notes)))
    if op.state == State.CANCELING and op.escalated_at is not None:
        blocks.append(_retry_actions(op))
    if op.state in OUTCOMES and op.paused_at is not None and op.resumed_at is None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "resume",
                "elements": [_button("Resume schedule", RESUME_ACTION, str(op.id))],
            }
        )
    text = f"Cancellation of {sync_plain(op.sync_name, op.sync_id)}: {words}."
    return View(text=text, blocks=blocks)


def _schedule_notes(op: Operation) -> list[str]:
    if op.kind != "cancel_and_pause":
        return []
    if op.resumed_at is not None:
        return [f"Schedule paused, then resumed by {user(op.resumed_by or '?')} {when(op.resumed_at)}."]
    if op.paused_at is not None:
        return ["Schedule paused: no new scheduled runs until someone resumes it."]
    if op.pause_error is not None:
        return [f":warning: The schedule could not be paused: {escape(_clip(op.pause_error, 200))}"]
    return ["The schedule will be paused once the cancel is sent."]


def _retry_actions(op: Operation) -> Block:
    value = f"{op.id}:{op.cancel_attempt}"  # the attempt makes a second click on it a no-op
    return {
        "type": "actions",
        "block_id": "cancel_retry",
        "elements": [_button("Try the cancel again", RETRY_ACTION, value, "danger")],
    }


def incident_notice(op: Operation) -> View:
    label = sync_label(op.sync_name, op.sync_id)
    where = f" in <#{op.channel_id}>" if _SLACK_ID.match(op.channel_id) else ""
    text = f":rotating_light: {user(op.requested_by)} requested cancellation of {label}{where}."
    return View(
        text=f"Cancellation of {sync_plain(op.sync_name, op.sync_id)} requested: canceling.",
        blocks=[
            _section(text),
            _context(f"Sync `{escape(op.sync_id)}` · execution `{escape(op.execution_id)}`"),
        ],
    )


def incident_escalation(op: Operation, now: datetime) -> View:
    """Posted once in the notice's thread when the run is still canceling after POLL_TIMEOUT."""
    headline, words = _headline(op, now)
    return View(
        text=f"Cancellation of {sync_plain(op.sync_name, op.sync_id)}: {words}.",
        blocks=[
            _section(f":warning: {headline} Polytomic has not stopped the run yet."),
            _retry_actions(op),
        ],
    )


def incident_outcome(op: Operation, now: datetime) -> View:
    headline, words = _headline(op, now)
    return View(
        text=f"Cancellation of {sync_plain(op.sync_name, op.sync_id)}: {words}.",
        blocks=[_section(headline)],
    )


def requester_note(op: Operation, now: datetime) -> View:
    """Told to the requester alone when the channel message could not be posted."""
    headline, words = _headline(op, now)
    invite = ""
    if op.status_error in ("not_in_channel", "channel_not_found"):
        invite = "\nI can't post in this channel: `/invite` me to see live status here."
    return View(
        text=f"Cancellation of {sync_plain(op.sync_name, op.sync_id)}: {words}.",
        blocks=[_section(headline + invite)],
    )


# ---- operators' views: list, pick, why, audit -------------------------------------------


@dataclass(frozen=True)
class SyncLine:
    """One sync in /polytomic list: what Polytomic said, and whether this person may cancel it."""

    sync: Sync
    current: Execution | None  # the active execution, if any
    may_cancel: bool = False
    error: str | None = None  # its status could not be read


def _running_for(execution: Execution, now: datetime) -> str:
    started = execution.started_at or execution.created_at
    return duration(elapsed_seconds(started, now))


def sync_list(lines: Sequence[SyncLine], *, running_only: bool, hidden: int, now: datetime) -> View:
    """At most MAX_LIST syncs; `hidden` counts the ones left out (cut, or not looked at)."""
    what = "running syncs" if running_only else "syncs"
    if not lines:
        text = "No sync is running right now." if running_only else "Polytomic has no syncs."
        return plain(text)
    blocks: list[Block] = [
        _section(f"*{len(lines) + hidden} {what}*" if hidden else f"*{len(lines)} {what}*")
    ]
    for line in lines:
        sync = line.sync
        target = f" → {escape(_clip(sync.target_object, 60))}" if sync.target_object else ""
        if line.error:
            state = f"status unknown ({escape(_clip(line.error, 80))})"
        elif line.current is not None and line.current.status.is_active:
            state = f"*{escape(line.current.status.value)}* for {_running_for(line.current, now)}"
        else:
            state = "not running" + (" · schedule paused" if sync.active is False else "")
        block = _section(f"{sync_label(sync.name, sync.id)}{target}\n{state} · `{escape(sync.id)}`")
        if line.may_cancel and line.current is not None and line.current.status.is_active:
            block["accessory"] = _button("Cancel…", LIST_CANCEL_ACTION, sync.id, style="danger")
        blocks.append(block)
    if hidden:
        blocks.append(
            _context(f"…and {hidden} more not shown. Name a sync to see it: `{escape(USAGE['status'])}`")
        )
    summary = f"{len(lines) + hidden} {what}" + (f" ({hidden} not shown)" if hidden else "")
    return View(text=summary + ".", blocks=blocks)


def pick_sync(matches: Sequence[Sync], verb: str, name: str) -> View:
    """Several syncs have that name: one button each, leading to `verb` on that one."""
    blocks: list[Block] = [
        _section(f"{len(matches)} syncs are named *{escape(_clip(name, MAX_NAME))}*. Which one?")
    ]
    for sync in matches[:MAX_LIST]:
        value = json.dumps({"v": verb, "s": sync.id}, separators=(",", ":"))
        target = f" → {escape(_clip(sync.target_object, 60))}" if sync.target_object else ""
        block = _section(f"{sync_label(sync.name, sync.id)}{target} · `{escape(sync.id)}`")
        block["accessory"] = _button("Choose", PICK_ACTION, value)
        blocks.append(block)
    return View(
        text=f"{len(matches)} syncs are named {escape(_clip(name, MAX_NAME))}: pick one.", blocks=blocks
    )


def no_such_name(name: str) -> View:
    return plain(
        f"No sync is named *{escape(_clip(name, MAX_NAME))}* (names must match exactly, "
        "case aside). `/polytomic list` shows them all."
    )


def why(decisions: Sequence[Decision], sync: Sync) -> View:
    """For each action: the grant that allows it, or what is missing and who may grant it."""
    lines = [f"Your permissions on {sync_label(sync.name, sync.id)}:"]
    for decision in decisions:
        if decision.allowed:
            lines.append(f"• `{decision.action}`: allowed by {decision.rule}")
        else:
            who = ", ".join(decision.granters) if decision.granters else "a bot admin (BOT_ADMINS)"
            lines.append(
                f"• `{decision.action}`: not allowed; you need {decision.missing}. Who can grant it: {who}"
            )
    return plain("\n".join(lines))


def audit_view(events: Sequence[AuditEvent], sync_id: str | None) -> View:
    where = f" for sync `{escape(sync_id)}`" if sync_id else ""
    if not events:
        return plain(f"Nothing in the audit trail{where} yet.")
    lines = [f"*Audit trail{where}*, newest first:"]
    for event in events:
        parts = [when(event.at), user(event.actor), f"`{escape(event.action)}`"]
        if event.sync_id and not sync_id:
            parts.append(f"sync `{escape(event.sync_id)}`")
        if event.decision:
            parts.append(
                f"*{event.decision}*" + (f" ({escape(_clip(event.rule or '', 120))})" if event.rule else "")
            )
        if event.outcome:
            parts.append(f"→ {escape(_clip(event.outcome, 120))}")
        lines.append("• " + " · ".join(parts))
    return plain("\n".join(lines))
