"""The App Home tab: a pure function of the data given (its confirm modal: bot/views/home_modal.py).

`home(data, now)` renders one person's Home tab from a `HomeData` (what the answers read: the
running syncs with whether this person may cancel each, their last operations, their grants,
who could grant them more), so it renders anywhere: in Slack through views.publish, in the
demo's page, in a unit test. Its sections, in order: the running syncs they may cancel (each
with **Cancel…**) and a count of those they may not; their last operations with the outcome and
a button to its status message (cancels, cancel-and-pauses and starts alike); their permissions
(grants to them and to their groups); the subscriptions they can manage (alerts to channels:
those they made, and every one on a sync they hold `subscribe` on); a **Refresh** button. A
viewer with no permission at all sees what the bot does and who can grant access instead (and
the subscriptions they made, if any).

A Home view holds at most 100 blocks (Slack's limit): each list is cut with "…and N more", and
the whole view is cut again at MAX_BLOCKS as a last resort. Everything supplied (sync names,
statuses, errors) is escaped and clipped through bot.views.blocks, as in every other view.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from bot.commands import USAGE
from bot.db.models import Operation, Stop, Subscription
from bot.operations import State, elapsed_seconds
from bot.permissions import ANY_SYNC, Rule
from bot.polytomic import Execution, Sync
from bot.stops import Tally
from bot.views.blocks import (
    Block,
    Builder,
    View,
    bold,
    button,
    clip,
    code,
    duration,
    escape,
    id_code,
    rows,
    status_text,
    sync_label,
    trusted,
    user,
    when,
)
from bot.views.buttons import HOME_CANCEL_ACTION, HOME_LINK_ACTION, HOME_REFRESH_ACTION, home_cancel_value
from bot.views.stops import summary_head
from bot.views.subscriptions import scope_text
from bot.views.syncs import target

MAX_BLOCKS: Final = 100  # Slack's limit for a Home view (and a modal)
MAX_RUNNING: Final = 30  # running syncs listed, each a block with its Cancel… button
MAX_GRANTS: Final = 40  # grants listed
GRANTS_PER_BLOCK: Final = 10
RECENT_SHOWN: Final = 10  # operations and stops listed together, newest first
MAX_SUBSCRIPTIONS: Final = 40  # subscriptions listed, as many a block as grants
_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,8}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,31}$")
_WORKSPACE = re.compile(r"^https://[A-Za-z0-9.-]{1,200}/$")

# What each state of an operation means, as the Home tab's list says it.
OUTCOME_WORDS: Final = {
    State.CONFIRMED: "being checked",
    State.CANCELING: "canceling",
    State.CANCELED: "canceled",
    State.COMPLETED: "completed before the cancel took effect",
    State.FAILED: "failed",
    State.INTERRUPTED: "interrupted",
    State.DENIED: "not sent: you lacked the permission",
    State.STALE: "not sent: the run had already ended",
    State.REJECTED: "refused by Polytomic",
    State.DUPLICATE: "already requested by someone else",
}
# A start's states where they mean something else than a cancel's (bot.operations: START_*).
START_WORDS: Final = {
    State.CONFIRMED: "being checked",
    State.STARTING: "starting",
    State.RUNNING: "running",
    State.COMPLETED: "completed",
    State.FAILED: "failed",
    State.CANCELED: "canceled",
    State.INTERRUPTED: "interrupted",
    State.DENIED: "not started: you lacked the permission",
    State.REJECTED: "not started: refused by Polytomic",
    State.DUPLICATE: "already being started by someone else",
    State.ALREADY_RUNNING: "not started: a run was already going",
}
KIND_WORDS: Final = {"cancel": "Cancel", "cancel_and_pause": "Cancel and pause", "start": "Start"}


@dataclass(frozen=True)
class RunningSync:
    """A running sync as the Home tab shows it, and whether the viewer may cancel it."""

    sync: Sync
    execution: Execution
    may_cancel: bool
    held_by: Operation | None = None  # the operation canceling it already (or done with it)


@dataclass(frozen=True)
class HomeData:
    """Everything one person's Home tab shows, read by bot.answers.home."""

    user_id: str
    is_admin: bool = False  # in BOT_ADMINS: every permission
    grants: Sequence[Rule] = ()  # the grants to them, and to the groups they are in
    granters: Sequence[str] = ()  # mentions of who could grant them a permission
    groups_unknown: bool = False  # Slack could not say which groups they are in
    # The running syncs (None: not read, as for a viewer with no permission), how many more
    # were not looked at (past the pages read), and why they could not be read.
    running: Sequence[RunningSync] | None = None
    running_unseen: int = 0
    running_error: str | None = None
    age: float = 0.0  # seconds since the oldest of the listing's answers was read
    operations: Sequence[Operation] = ()  # their last operations, newest first
    stops: Sequence[tuple[Stop, Tally]] = ()  # their last stops (many syncs at once), with counts
    workspace_url: str | None = None  # https://<domain>.slack.com/, for links to messages
    # The subscriptions they can manage (alerts to channels); None: not read, not shown.
    subscriptions: Sequence[Subscription] | None = None
    extra: Sequence[str] = field(default_factory=tuple)  # further sections, as safe sources

    @property
    def has_permission(self) -> bool:
        return self.is_admin or bool(self.grants)


def message_url(
    workspace_url: str | None, channel_id: str, ts: str | None, thread_ts: str | None = None
) -> str | None:
    """A message's link (`https://…/archives/C…/p…`, with its thread for a reply), or None when
    one of its parts is missing or not of Slack's form (nothing else may reach the link)."""
    if ts is None or workspace_url is None:
        return None
    if not (_WORKSPACE.match(workspace_url) and _CHANNEL.match(channel_id) and _TS.match(ts)):
        return None
    url = f"{workspace_url}archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts is not None and _TS.match(thread_ts) and thread_ts != ts:
        url += f"?thread_ts={thread_ts}&cid={channel_id}"
    return url


def link_button(text: str, url: str, action_id: str) -> Block:
    """A button that opens a link (Slack still sends its click, which is acked and ignored)."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "url": url,
        "action_id": action_id,
    }


def state_words(state: str, kind: str = "cancel") -> str:
    """An operation's state as the Home tab says it (a state it does not know, as it is)."""
    table = START_WORDS if kind == "start" else OUTCOME_WORDS
    words = {str(key): value for key, value in table.items()}
    return words.get(state, escape(clip(state, 40)))


def operation_line(op: Operation) -> str:
    """One of the viewer's operations: what, on which sync, its outcome, and when."""
    what = KIND_WORDS.get(op.kind, escape(clip(op.kind, 40)))
    outcome = state_words(op.state, op.kind)
    if op.kind == "start":
        took = elapsed_seconds(op.execution_started_at or op.created_at, op.execution_ended_at)
        if op.state in (State.COMPLETED, State.FAILED, State.CANCELED, State.INTERRUPTED):
            outcome += f" after {duration(took)}, {rows(op.rows_written)} written"
    elif op.state == State.CANCELED:
        took = elapsed_seconds(op.cancel_sent_at or op.created_at, op.execution_ended_at)
        outcome += f" after {duration(took)}, {rows(op.rows_written)} written"
    return f"{what} {sync_label(op.sync_name, op.sync_id)}: {bold(outcome)} · {when(op.created_at)}"


def grant_line(rule: Rule, user_id: str) -> str:
    where = "every sync" if rule.scope == ANY_SYNC else f"sync {id_code(rule.scope)}"
    to = (
        "you" if rule.subject_kind == "user" and rule.subject_id == user_id else trusted(rule.subject_mention)
    )
    return f"• {code(escape(rule.action))} on {where} (granted to {to})"


def _running_line(item: RunningSync, now: datetime) -> str:
    started = item.execution.started_at or item.execution.created_at
    running_for = duration(elapsed_seconds(started, now))
    label = sync_label(item.sync.name, item.sync.id, id_if_changed=False)
    return (
        f"{label}{target(item.sync)}\n{bold(status_text(item.execution.status.value))} for {running_for}"
        f" · {rows(item.execution.counts.rows_written)} · {id_code(item.sync.id)}"
    )


def _divider(builder: Builder) -> None:
    builder.blocks.append({"type": "divider"})


def _running(builder: Builder, data: HomeData, now: datetime) -> None:
    builder.section(bold("Running syncs you may cancel"))
    if data.running_error is not None:
        builder.context(
            f"I couldn't read the running syncs from Polytomic: {escape(clip(data.running_error, 200))}"
        )
        return
    running = data.running or ()
    mine = [item for item in running if item.may_cancel and item.execution.id]
    others = len(running) - len(mine)
    for item in mine[:MAX_RUNNING]:
        if item.held_by is not None:
            op = item.held_by
            asked = "you" if op.requested_by == data.user_id else user(op.requested_by)
            state = state_words(op.state)
            builder.section(f"{_running_line(item, now)}\nCancel asked by {asked}: {bold(state)}")
            continue
        value = home_cancel_value(item.sync.id, item.execution.id or "")
        cancel = button("Cancel…", HOME_CANCEL_ACTION, value, style="danger")
        builder.section(_running_line(item, now), cancel)
    if not mine:
        builder.context(
            "None of the running syncs is one you may cancel." if running else "No sync is running."
        )
    notes = []
    if len(mine) > MAX_RUNNING:
        notes.append(f"…and {len(mine) - MAX_RUNNING} more you may cancel, not shown.")
    if others:
        notes.append(f"{others} running sync{'s' if others != 1 else ''} you may not cancel.")
    if data.running_unseen:
        notes.append(f"Polytomic has more syncs than I looked at ({data.running_unseen}+ not checked).")
    if data.age >= 1:
        notes.append(f"As Polytomic said {duration(round(data.age))} ago.")
    if notes:
        builder.context(" ".join(notes))


def stop_line(stop: Stop, tally: Tally) -> str:
    """One of the viewer's stops: its summary's words (how many syncs, what became of them)."""
    head = summary_head(stop, tally, final=stop.final_at is not None)
    if stop.aborted_at is not None:
        head += " The rest was aborted."
    return f"{head} · {when(stop.created_at)}"


def _operations(builder: Builder, data: HomeData) -> None:
    builder.section(bold("Your last operations"))
    if not data.operations and not data.stops:
        builder.context("You have not asked me to cancel anything yet.")
    entries: list[tuple[datetime, str, Block | None]] = []
    for op in data.operations:
        url = message_url(data.workspace_url, op.channel_id, op.status_ts, op.thread_ts)
        link = None if url is None else link_button("Status message", url, f"{HOME_LINK_ACTION}_{op.id}")
        entries.append((op.created_at, operation_line(op), link))
    for stop, tally in data.stops:
        url = message_url(data.workspace_url, stop.channel_id, stop.summary_ts)
        link = None if url is None else link_button("Summary", url, f"{HOME_LINK_ACTION}_s{stop.id}")
        entries.append((stop.created_at, stop_line(stop, tally), link))
    entries.sort(key=lambda entry: entry[0], reverse=True)
    for _at, source, link in entries[:RECENT_SHOWN]:
        builder.section(source, link)


def _permissions(builder: Builder, data: HomeData) -> None:
    builder.section(bold("Your permissions"))
    if data.is_admin:
        builder.section(f"You are a bot admin ({code('BOT_ADMINS')}): every permission on every sync.")
    lines = [grant_line(rule, data.user_id) for rule in data.grants[:MAX_GRANTS]]
    for start in range(0, len(lines), GRANTS_PER_BLOCK):
        builder.section("\n".join(lines[start : start + GRANTS_PER_BLOCK]))
    if len(data.grants) > MAX_GRANTS:
        builder.context(
            f"…and {len(data.grants) - MAX_GRANTS} more. {code(escape(USAGE['grants']))} lists them all."
        )
    if data.groups_unknown:
        builder.context(
            "Slack could not say which user groups you are in: grants to groups may be missing here."
        )


def subscription_line(sub: Subscription, user_id: str) -> str:
    """One subscription the viewer may manage: where, what it covers, which runs, whose."""
    by = "you" if sub.created_by == user_id else user(sub.created_by)
    line = f"• <#{sub.channel_id}> · {scope_text(sub.scope_kind, sub.scope_id, sub.scope_name)}"
    line += f": {escape(clip(sub.mode, 20))} · by {by}"
    if sub.disabled_at is not None:
        line += (
            f" · {bold('disabled')} {when(sub.disabled_at)} ({escape(clip(sub.disabled_reason or '', 40))})"
        )
    return line


def _subscriptions(builder: Builder, data: HomeData) -> None:
    if data.subscriptions is None:
        return
    _divider(builder)
    builder.section(bold("Subscriptions you can manage"))
    subs = data.subscriptions
    if not subs:
        builder.context(f"None. {code(escape(USAGE['subscribe']))} in a channel adds one.")
        return
    lines = [subscription_line(sub, data.user_id) for sub in subs[:MAX_SUBSCRIPTIONS]]
    for start in range(0, len(lines), GRANTS_PER_BLOCK):
        builder.section("\n".join(lines[start : start + GRANTS_PER_BLOCK]))
    more = f"…and {len(subs) - MAX_SUBSCRIPTIONS} more. " if len(subs) > MAX_SUBSCRIPTIONS else ""
    builder.context(f"{more}{code(escape(USAGE['unsubscribe']))} in its channel removes one.")


def _empty_state(builder: Builder, data: HomeData) -> None:
    granters = (
        trusted(", ".join(data.granters)) if data.granters else f"nobody yet (set {code('BOT_ADMINS')})"
    )
    builder.section(
        "I stop a misbehaving Polytomic sync from Slack, safely: I show its running execution, "
        "ask you to confirm, check your permission, cancel exactly that run and keep one status "
        "message up to date until it has stopped."
    )
    builder.section(
        f"You hold no permission yet. Who can grant access: {granters}. Ask them for "
        f"{code(escape(USAGE['grant']))}."
    )
    builder.context(
        f"Anyone may run {code(escape(USAGE['list']))}, {code(escape(USAGE['status']))} and "
        f"{code(escape(USAGE['help']))}."
    )
    if data.groups_unknown:
        builder.context(
            "Slack could not say which user groups you are in: a grant to a group may be missing here."
        )


def home(data: HomeData, now: datetime) -> View:
    """One person's Home tab (its blocks; `text` holds the same facts, for tests and the demo)."""
    builder = Builder()
    builder.section(
        f"{bold('Polytomic')} for {user(data.user_id)} · updated {when(now)}",
        button("Refresh", HOME_REFRESH_ACTION, "refresh"),
    )
    _divider(builder)
    if not data.has_permission:
        _empty_state(builder, data)
        if data.operations or data.stops:
            _divider(builder)
            _operations(builder, data)
        if data.subscriptions:  # the ones they made, before their grant went
            _subscriptions(builder, data)
    else:
        _running(builder, data, now)
        _divider(builder)
        _operations(builder, data)
        _divider(builder)
        _permissions(builder, data)
        _subscriptions(builder, data)
    for source in data.extra:
        _divider(builder)
        builder.section(source)
    return _within_limit(builder.view())


def _within_limit(view: View) -> View:
    if len(view.blocks) <= MAX_BLOCKS:
        return view
    kept = view.blocks[: MAX_BLOCKS - 1]
    cut = sum(1 for block in view.blocks[MAX_BLOCKS - 1 :] if block.get("type") != "divider")
    note = f"…and {cut} more not shown."
    kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return View(text=view.text, blocks=kept)


def home_tab(view: View) -> dict[str, Any]:
    """The `view` argument of views.publish."""
    return {"type": "home", "blocks": view.blocks}
