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
from bot.db.models import Operation
from bot.operations import State, elapsed_seconds
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
DISMISS_ACTION = "cancel_dismiss"
RETRY_ACTION = "cancel_retry"

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


def cancel_prompt(sync: Sync, execution: Execution, execution_id: str) -> View:
    label = sync_label(sync.name, sync.id)
    plain = sync_plain(sync.name, sync.id)
    value = confirm_value(sync.id, execution_id)
    confirm = {
        "title": {"type": "plain_text", "text": "Cancel this sync run?"},
        "text": {
            "type": "plain_text",
            "text": _clip(
                f"Polytomic will stop the run of {sync.name or sync.id} now. Rows already written stay.",
                300,
            ),
        },
        "confirm": {"type": "plain_text", "text": "Cancel the run"},
        "deny": {"type": "plain_text", "text": "Keep it running"},
        "style": "danger",
    }
    cancel_button = _button("Cancel sync", CONFIRM_ACTION, value, style="danger")
    cancel_button["confirm"] = confirm
    return View(
        text=f"{plain} is running. Cancel it?",
        blocks=[
            _section(f"{label} is running.\n" + "\n".join(_execution_lines(execution))),
            _context(f"Sync `{escape(sync.id)}` · execution `{escape(execution_id)}`"),
            {
                "type": "actions",
                "block_id": "cancel_prompt",
                "elements": [cancel_button, _button("Keep running", DISMISS_ACTION, value)],
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


def plain(text: str) -> View:
    """A short answer whose text is already safe mrkdwn (built from our own words)."""
    return View(text=text, blocks=[_section(text)])


def usage(invalid: Invalid) -> View:
    return plain(f"{invalid.problem}\nUsage: `{invalid.usage}`\nSee `/polytomic help` for every command.")


def help_view() -> View:
    lines = [
        "*/polytomic* stops a misbehaving Polytomic sync from Slack.",
        f"• `{USAGE['cancel']}`: show the running execution and offer to cancel it",
        f"• `{USAGE['status']}`: the current and last run, and the next scheduled one",
        f"• `{USAGE['grant']}`: give a permission (needs `admin`)",
        f"• `{USAGE['revoke']}`: take one back (needs `admin`)",
        f"• `{USAGE['grants']}`: who may do what",
        "Example: `/polytomic cancel 248df4b7-aa70-47b8-a036-33ac447e668d` (or paste the sync's URL).",
    ]
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


def dismissed(sync_id: str) -> View:
    return plain(f"OK, sync `{escape(sync_id)}` keeps running.")


def grants_list(rules: Sequence[Rule], admins: frozenset[str]) -> View:
    lines = ["*Permissions*"]
    if admins:
        lines.append("Bot admins (every permission): " + ", ".join(user(a) for a in sorted(admins)))
    if not rules:
        lines.append("No grants yet. A bot admin can add one with `" + USAGE["grant"] + "`.")
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
    if op.state == State.CANCELING and progress:
        if op.cancel_sent_at is None and op.last_error:
            notes.append(f"Waiting for Polytomic to take the cancel: {escape(_clip(op.last_error, 200))}")
        elif op.polytomic_status:
            notes.append(f"Polytomic status: {escape(op.polytomic_status)} · {rows(op.rows_written)} so far")
    if op.incident_error:
        notes.append(f":warning: The incident channel notice failed: {escape(op.incident_error)}")
    notes.append(f"Sync `{escape(op.sync_id)}` · execution `{escape(op.execution_id)}`")
    blocks.append(_context("\n".join(notes)))
    if op.state == State.CANCELING and op.escalated_at is not None:
        blocks.append(_retry_actions(op))
    text = f"Cancellation of {sync_plain(op.sync_name, op.sync_id)}: {words}."
    return View(text=text, blocks=blocks)


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
