"""Every Slack message the bot sends, rendered here and nowhere else; all escaping lives here.

A view is Block Kit blocks plus a top-level `text`: the words a phone notification, a screen
reader and Slack search show. Both come from the same source strings, so they cannot drift:
a view adds each section or context once (`_Builder`), and its text is those same lines in
plain words. A source marks emphasis with private characters (`bold`, `code`, `_icon`): they
become `*` and `` ` `` in the blocks and vanish from the text (an icon vanishes with its
emoji). `escape` drops those characters from supplied text, so nothing supplied can forge them.

Slack still parses the text as mrkdwn, so it stays escaped like the blocks: mentions of users
and channels (`<@U…>`, `<#C…>`) stay mentions, and `<!channel>` in a sync's name stays inert.
Anything that came from a user or from Polytomic goes through `escape` before it lands in a
source. Views of an operation are rendered from its row alone.
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
SECTION_LIMIT = 3000  # characters Slack allows in one section's text
TEXT_LIMIT = 39_000  # Slack cuts the top-level text at 40,000 characters
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


@dataclass(frozen=True)
class View:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def digest(self) -> str:
        """Identifies what the user sees, so an unchanged view is never sent again."""
        payload = json.dumps({"t": self.text, "b": self.blocks}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


# ---- sources: one string, rendered as mrkdwn for blocks and as plain words for text -------

_BOLD = "\x02"
_CODE = "\x03"
_ICON = "\x04"
_ICON_SPAN = re.compile(f"{_ICON}[^{_ICON}]*{_ICON}")
# Control characters never belong in a message; removing them also keeps the markers above ours.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CODE_SPAN = re.compile(r"`([^`\n]*)`")
ICONS = (":rotating_light:", ":warning:")  # the emoji views put in blocks, never in text


def escape(text: str) -> str:
    """Slack's mrkdwn control characters; `<!channel>` becomes inert `&lt;!channel&gt;`."""
    return _CONTROL.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bold(source: str) -> str:
    """Bold in the blocks, plain in the text."""
    return f"{_BOLD}{source}{_BOLD}"


def code(source: str) -> str:
    """Code in the blocks (IDs, commands), plain in the text."""
    return f"{_CODE}{source}{_CODE}"


def _icon(emoji: str) -> str:
    """An emoji in front of a block's words; the text leaves it out (a screen reader would
    read its name out first)."""
    return f"{_ICON}{emoji} {_ICON}"


def _trusted(mrkdwn_text: str) -> str:
    """mrkdwn built by another bot module (permissions, commands: IDs, actions, mentions,
    never anything supplied) as a source: its code spans become ours."""
    return _CODE_SPAN.sub(lambda match: code(match.group(1)), mrkdwn_text)


def mrkdwn(source: str) -> str:
    return source.replace(_BOLD, "*").replace(_CODE, "`").replace(_ICON, "")


def words(source: str) -> str:
    return _ICON_SPAN.sub("", source).replace(_BOLD, "").replace(_CODE, "")


class _Builder:
    """Blocks and the text of one view, added to side by side from the same sources."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.lines: list[str] = []

    def section(self, source: str, accessory: Block | None = None) -> _Builder:
        block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(source)}}
        if accessory is not None:
            block["accessory"] = accessory
        self.blocks.append(block)
        self.lines.append(words(source))
        return self

    def context(self, source: str) -> _Builder:
        self.blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(source)}]})
        self.lines.append(words(source))
        return self

    def actions(self, block_id: str, buttons: list[Block]) -> _Builder:
        """Buttons say nothing the text must repeat: the sections around them say what they do."""
        self.blocks.append({"type": "actions", "block_id": block_id, "elements": buttons})
        return self

    def view(self) -> View:
        text = "\n".join(self.lines)
        if len(text) > TEXT_LIMIT:
            # At a line's end when there is one: a cut mention or entity would show as markup.
            cut = text.rfind("\n", 0, TEXT_LIMIT)
            text = text[: cut if cut > 0 else TEXT_LIMIT] + "\n…"
        return View(text=text, blocks=self.blocks)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user(user_id: str) -> str:
    """A mention of a Slack user ID; anything that is not an ID is shown, escaped, as text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)


def channel(channel_id: str) -> str:
    """' in <#C…>' for a channel ID, else nothing (a channel is only named by its ID)."""
    return f" in <#{channel_id}>" if _SLACK_ID.match(channel_id) else ""


def sync_label(name: str | None, sync_id: str) -> str:
    """A sync: its name in bold when known, else its ID as code."""
    if name and name.strip():
        return bold(escape(_clip(name.strip(), MAX_NAME)))
    return code(escape(sync_id))


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


def _ids(sync_id: str, execution_id: str) -> str:
    return f"Sync {code(escape(sync_id))} · execution {code(escape(execution_id))}"


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
    lines = [f"Status: {bold(escape(execution.status.value or 'unknown'))}"]
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
    head = f"{sync_label(sync.name, sync.id)} is running. Cancel it?"
    return (
        _Builder()
        .section(head + "\n" + "\n".join(_execution_lines(execution)))
        .context(_ids(sync.id, execution_id))
        .actions("cancel_prompt", buttons)
        .view()
    )


def _last_run_line(status: SyncStatus) -> str:
    last = status.last_execution
    if last is None:
        return "It has not run yet."
    ended = last.completed_at or last.started_at or last.created_at
    outcome = escape(last.status.value or "unknown")
    line = f"Last run: {bold(outcome)} {when(ended)}, {rows(last.counts.rows_written)}."
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
    return (
        _Builder()
        .section(f"{sync_label(sync.name, sync.id)} is not running: nothing to cancel.")
        .context(_last_run_line(status) + "\n" + _next_run_line(status, sync))
        .view()
    )


def sync_status(sync: Sync, status: SyncStatus) -> View:
    label = sync_label(sync.name, sync.id)
    current = status.current_execution
    if current is not None and not current.status.is_terminal:
        head = f"{label} is running.\n" + "\n".join(_execution_lines(current))
    else:
        head = f"{label} is not running."
    details = [_last_run_line(status), _next_run_line(status, sync), f"Sync {code(escape(sync.id))}"]
    return _Builder().section(head).context("\n".join(details)).view()


# ---- answers to the requester --------------------------------------------------------


def plain(source: str) -> View:
    """An answer whose source is already safe (escaped, or built by this module), in as many
    sections as Slack needs."""
    builder = _Builder()
    chunk = ""
    for line in source.split("\n"):
        line = _clip(line, SECTION_LIMIT)
        if chunk and len(chunk) + 1 + len(line) > SECTION_LIMIT:
            builder.section(chunk)
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
        if len(builder.blocks) == 49:
            break  # Slack's 50 blocks, with the last chunk still to come
    builder.section(chunk or " ")
    return builder.view()


def usage(invalid: Invalid) -> View:
    # Placeholders such as <sync ID> would be read by Slack as links: escaped like everything else.
    return plain(
        f"{_trusted(invalid.problem)}\nUsage: {code(escape(invalid.usage))}\n"
        f"See {code('/polytomic help')} for every command."
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
    lines = [f"{bold('/polytomic')} stops a misbehaving Polytomic sync from Slack. What you can run:"]
    for name, needs, what, example in HELP:
        if needs is None or needs in capabilities:
            lines.append(f"• {code(escape(USAGE[name]))}: {what}. Example: {code(escape(example))}")
    if {"cancel", "pause"} <= capabilities:
        lines.append(f"The cancel prompt also offers {bold('Cancel and pause the schedule')}.")
    if "cancel" not in capabilities:
        lines.append(
            f"You can't cancel syncs yet: ask a bot admin for the {code('cancel')} permission "
            f"({code('/polytomic grants')})."
        )
    return plain("\n".join(lines))


def _granters(decision: Decision) -> str:
    # Mentions built by bot.permissions from grant rows and BOT_ADMINS: Slack IDs, no text.
    return ", ".join(decision.granters) if decision.granters else "a bot admin (BOT_ADMINS)"


def denied_note(decision: Decision) -> str:
    """The source of `denied`; a denied click keeps it on its row for `released`."""
    return (
        f"You don't have permission to {decision.action} here: you need {_trusted(decision.missing)}. "
        f"Who can grant it: {_granters(decision)}."
    )


def denied(decision: Decision) -> View:
    return plain(denied_note(decision))


def polytomic_failure(error: PolytomicError, sync_id: str | None) -> View:
    """What a Polytomic error means for the user, naming the setting when it is the bot's key."""
    detail = f" Polytomic said: {escape(_clip(error.message, MAX_ERROR))}" if error.message else ""
    target = code(escape(sync_id)) if sync_id else "that"
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


def already_requested_note(op: Operation) -> str:
    """The source of `already_requested`; a click that lost the race keeps it on its row."""
    return (
        f"A cancellation of {sync_label(op.sync_name, op.sync_id)} was already requested by "
        f"{user(op.requested_by)}; follow it in the channel. Nothing more was sent."
    )


def already_requested(op: Operation) -> View:
    return plain(already_requested_note(op))


def stale_note(op: Operation, execution: Execution | None, superseded: bool) -> str:
    """The source of `stale`; a stale click keeps it on its row for `released`."""
    label = sync_label(op.sync_name, op.sync_id)
    if superseded:
        text = (
            f"The run you confirmed of {label} has ended and a newer run is going now. "
            f"Nothing was canceled. Run {code('/polytomic cancel')} again to see the new run."
        )
    elif execution is not None and execution.status.value:
        text = (
            f"The run you confirmed of {label} already ended: {bold(escape(execution.status.value))} "
            f"{when(execution.completed_at)}. Nothing was canceled."
        )
    else:
        text = f"The run you confirmed of {label} is no longer running. Nothing was canceled."
    return text


def stale(op: Operation, execution: Execution | None, superseded: bool) -> View:
    return plain(stale_note(op, execution, superseded))


def released(op: Operation) -> View:
    """Why a confirmed cancel was not sent (denied, stale) or not taken (rejected)."""
    reason = op.last_error or "Nothing was canceled."
    if op.state == State.REJECTED:
        label = sync_label(op.sync_name, op.sync_id)
        return plain(f"{label} was {bold('not canceled')}. {escape(_clip(reason, MAX_ERROR))}")
    # A note of this module kept on the row (denied_note, stale_note, already_requested_note).
    return plain(reason)


def invalid_button() -> View:
    return plain(f"That button is not valid any more. Run {code('/polytomic cancel')} again.")


def groups_unavailable() -> View:
    return plain("I couldn't check your Slack user groups just now. Try again in a minute.")


def not_recorded() -> View:
    """A confirm click the database could not take."""
    return plain("I couldn't record that just now (database unavailable). Nothing was sent; try again.")


def retry_sent() -> View:
    return plain("Sending the cancel to Polytomic again.")


def retry_refused() -> View:
    return plain("That was already retried, or the run has ended. Nothing more was sent.")


def resumed(op: Operation) -> View:
    return plain(f"Resumed the schedule of {sync_label(op.sync_name, op.sync_id)}.")


def already_resumed(op: Operation) -> View:
    return plain(f"The schedule of {sync_label(op.sync_name, op.sync_id)} was already resumed.")


def grants_list(rules: Sequence[Rule], admins: frozenset[str]) -> View:
    lines = [bold("Permissions")]
    if admins:
        lines.append("Bot admins (every permission): " + ", ".join(user(a) for a in sorted(admins)))
    if not rules:
        lines.append(f"No grants yet. A bot admin can add one with {code(escape(USAGE['grant']))}.")
    for rule in rules:
        lines.append("• " + _trusted(rule.describe()))
    return plain("\n".join(lines))


def grant_changed(verb: str, subject_mention: str, action: str, scope: str, changed: bool) -> View:
    """`subject_mention` is the parsed command's mention of a user or group (IDs only)."""
    where = "every sync" if scope == "*" else f"sync {code(escape(scope))}"
    what = code(escape(action))
    if verb == "grant":
        text = (
            f"{subject_mention} may now {escape(action)} on {where}."
            if changed
            else f"{subject_mention} already had {what} on {where}; nothing changed."
        )
    else:
        text = (
            f"{subject_mention} no longer has {what} on {where}."
            if changed
            else f"{subject_mention} had no {what} grant on {where}; nothing changed."
        )
    return plain(text)


# ---- the channel status message and the incident posts, rendered from the operation row --


def _headline(op: Operation, now: datetime, *, where: bool = False) -> str:
    """Who asked to cancel which sync (in which channel, for posts elsewhere) and what
    happened: the first line of the status message and of every incident post."""
    label = sync_label(op.sync_name, op.sync_id)
    if op.kind == "cancel_and_pause":
        label += " (and a pause of its schedule)"
    asked = f"{user(op.requested_by)} requested cancellation of {label}"
    if where:
        asked += channel(op.channel_id)
    state = State(op.state)
    took = elapsed_seconds(op.cancel_sent_at or op.created_at, op.execution_ended_at)
    if state is State.CANCELED:
        return (
            f"{asked}: {bold('canceled')} after {duration(took)}, "
            f"{rows(op.rows_written)} written before it stopped."
        )
    if state is State.COMPLETED:
        return (
            f"{asked}: the run {bold('completed')} before the cancel took effect "
            f"({rows(op.rows_written)} written)."
        )
    if state is State.FAILED:
        error = op.execution_errors or "no error message"
        return (
            f"{asked}: the run {bold('failed')} before it could be canceled. "
            f"Polytomic's error: {escape(_clip(error, MAX_ERROR))}"
        )
    if state is State.INTERRUPTED:
        return f"{asked}: the run was {bold('interrupted')} ({rows(op.rows_written)} written)."
    if state is State.REJECTED:
        reason = escape(_clip(op.last_error or "unknown error", MAX_ERROR))
        return f"{asked}: {bold('not canceled')}. {reason}"
    if op.escalated_at is not None:
        waited = elapsed_seconds(op.created_at, now) or 0
        minutes = max(1, waited // 60)
        return f"{asked}: {bold('still canceling')} after {minutes} minute{'s' if minutes > 1 else ''}."
    return f"{asked}: canceling…"


PROGRESS_EVERY = 30.0  # seconds: progress alone (rows, elapsed time) refreshes no faster


def status_message(op: Operation, now: datetime, *, progress: bool = True) -> View:
    """The channel status message. With progress=False, only what changes with the state:
    the tracker edits the message when that part changes, and for progress at most every
    PROGRESS_EVERY seconds."""
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
        notes.append(f"{_icon(':warning:')}The incident channel notice failed: {escape(op.incident_error)}")
    notes.append(_ids(op.sync_id, op.execution_id))
    builder = _Builder().section(_headline(op, now)).context("\n".join(notes))
    if op.state == State.CANCELING and op.escalated_at is not None:
        builder.actions("cancel_retry", [_retry_button(op)])
    if op.state in OUTCOMES and op.paused_at is not None and op.resumed_at is None:
        builder.actions("resume", [_button("Resume schedule", RESUME_ACTION, str(op.id))])
    return builder.view()


def _schedule_notes(op: Operation) -> list[str]:
    if op.kind != "cancel_and_pause":
        return []
    if op.resumed_at is not None:
        return [f"Schedule paused, then resumed by {user(op.resumed_by or '?')} {when(op.resumed_at)}."]
    if op.paused_at is not None:
        return ["Schedule paused: no new scheduled runs until someone resumes it."]
    if op.pause_error is not None:
        return [f"{_icon(':warning:')}The schedule could not be paused: {escape(_clip(op.pause_error, 200))}"]
    return ["The schedule will be paused once the cancel is sent."]


def _retry_button(op: Operation) -> Block:
    value = f"{op.id}:{op.cancel_attempt}"  # the attempt makes a second click on it a no-op
    return _button("Try the cancel again", RETRY_ACTION, value, "danger")


def incident_notice(op: Operation) -> View:
    """The incident channel's notice: who asked to cancel which sync, where. Edited only when
    that changes (the sync's name arriving late); the outcome goes in its thread."""
    label = sync_label(op.sync_name, op.sync_id)
    if op.kind == "cancel_and_pause":
        label += " (and a pause of its schedule)"
    head = f"{_icon(':rotating_light:')}{user(op.requested_by)} requested cancellation of {label}"
    return (
        _Builder()
        .section(f"{head}{channel(op.channel_id)}.")
        .context(_ids(op.sync_id, op.execution_id))
        .view()
    )


def incident_escalation(op: Operation, now: datetime) -> View:
    """Posted once in the notice's thread when the run is still canceling after POLL_TIMEOUT."""
    headline = _headline(op, now, where=True)
    return (
        _Builder()
        .section(f"{_icon(':warning:')}{headline} Polytomic has not stopped the run yet.")
        .actions("cancel_retry", [_retry_button(op)])
        .view()
    )


def incident_outcome(op: Operation, now: datetime) -> View:
    return _Builder().section(_headline(op, now, where=True)).view()


def requester_note(op: Operation, now: datetime) -> View:
    """Told to the requester alone when the channel message could not be posted."""
    invite = ""
    if op.status_error in ("not_in_channel", "channel_not_found"):
        invite = f"\nI can't post in this channel: {code('/invite')} me to see live status here."
    return _Builder().section(_headline(op, now) + invite).view()


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


def _target(sync: Sync) -> str:
    return f" → {escape(_clip(sync.target_object, 60))}" if sync.target_object else ""


def sync_list(lines: Sequence[SyncLine], *, running_only: bool, hidden: int, now: datetime) -> View:
    """At most MAX_LIST syncs; `hidden` counts the ones left out (cut, or not looked at)."""
    what = "running syncs" if running_only else "syncs"
    if not lines:
        return plain("No sync is running right now." if running_only else "Polytomic has no syncs.")
    builder = _Builder().section(bold(f"{len(lines) + hidden} {what}"))
    for line in lines:
        sync = line.sync
        if line.error:
            state = f"status unknown ({escape(_clip(line.error, 80))})"
        elif line.current is not None and line.current.status.is_active:
            state = f"{bold(escape(line.current.status.value))} for {_running_for(line.current, now)}"
        else:
            state = "not running" + (" · schedule paused" if sync.active is False else "")
        accessory = None
        if line.may_cancel and line.current is not None and line.current.status.is_active:
            accessory = _button("Cancel…", LIST_CANCEL_ACTION, sync.id, style="danger")
        source = f"{sync_label(sync.name, sync.id)}{_target(sync)}\n{state} · {code(escape(sync.id))}"
        builder.section(source, accessory)
    if hidden:
        builder.context(
            f"…and {hidden} more not shown. Name a sync to see it: {code(escape(USAGE['status']))}"
        )
    return builder.view()


def pick_sync(matches: Sequence[Sync], verb: str, name: str) -> View:
    """Several syncs have that name: one button each, leading to `verb` on that one."""
    builder = _Builder().section(
        f"{len(matches)} syncs are named {bold(escape(_clip(name, MAX_NAME)))}. Which one?"
    )
    for sync in matches[:MAX_LIST]:
        value = json.dumps({"v": verb, "s": sync.id}, separators=(",", ":"))
        source = f"{sync_label(sync.name, sync.id)}{_target(sync)} · {code(escape(sync.id))}"
        builder.section(source, _button("Choose", PICK_ACTION, value))
    return builder.view()


def no_such_name(name: str) -> View:
    return plain(
        f"No sync is named {bold(escape(_clip(name, MAX_NAME)))} (names must match exactly, "
        f"case aside). {code('/polytomic list')} shows them all."
    )


def why(decisions: Sequence[Decision], sync: Sync) -> View:
    """For each action: the grant that allows it, or what is missing and who may grant it."""
    lines = [f"Your permissions on {sync_label(sync.name, sync.id)}:"]
    for decision in decisions:
        action = code(escape(decision.action))
        if decision.allowed:
            lines.append(f"• {action}: allowed by {_trusted(decision.rule)}")
        else:
            lines.append(
                f"• {action}: not allowed; you need {_trusted(decision.missing)}. "
                f"Who can grant it: {_granters(decision)}"
            )
    return plain("\n".join(lines))


def audit_view(events: Sequence[AuditEvent], sync_id: str | None) -> View:
    where = f" for sync {code(escape(sync_id))}" if sync_id else ""
    if not events:
        return plain(f"Nothing in the audit trail{where} yet.")
    lines = [f"{bold(f'Audit trail{where}')}, newest first:"]
    for event in events:
        parts = [when(event.at), user(event.actor), code(escape(event.action))]
        if event.sync_id and not sync_id:
            parts.append(f"sync {code(escape(event.sync_id))}")
        if event.decision:
            rule = f" ({escape(_clip(event.rule or '', 120))})" if event.rule else ""
            parts.append(bold(escape(event.decision)) + rule)
        if event.outcome:
            parts.append(f"→ {escape(_clip(event.outcome, 120))}")
        lines.append("• " + " · ".join(parts))
    return plain("\n".join(lines))
