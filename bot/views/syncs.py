"""What Polytomic says about syncs, as answers: `/polytomic status`, `/polytomic list`, "nothing
to cancel", and "no sync of that name". Also the lines about a run that the cancel prompt
shows too (`execution_lines`, `target`), so both say the same about one execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.commands import USAGE
from bot.operations import elapsed_seconds
from bot.polytomic import Execution, Sync, SyncStatus
from bot.views.blocks import (
    MAX_ERROR,
    MAX_NAME,
    Builder,
    View,
    bold,
    button,
    clip,
    code,
    duration,
    escape,
    id_code,
    name_text,
    plain,
    rows,
    status_text,
    sync_label,
    when,
)
from bot.views.buttons import LIST_CANCEL_ACTION, list_cancel_value

MAX_LIST = 20  # syncs shown in one /polytomic list answer (and in one pick-a-sync choice)


def execution_lines(execution: Execution) -> list[str]:
    lines = [f"Status: {bold(status_text(execution.status.value))}"]
    started = execution.started_at or execution.created_at
    lines.append(f"Started: {when(started)}")
    lines.append(f"Rows so far: {rows(execution.counts.rows_written)}")
    return lines


def target(sync: Sync) -> str:
    """' → the destination object', when Polytomic names one."""
    shown = name_text(sync.target_object or "")
    return f" → {escape(clip(shown, 60))}" if shown else ""


def _last_run_line(status: SyncStatus) -> str:
    last = status.last_execution
    if last is None:
        return "It has not run yet."
    ended = last.completed_at or last.started_at or last.created_at
    outcome = status_text(last.status.value)
    line = f"Last run: {bold(outcome)} {when(ended)}, {rows(last.counts.rows_written)}."
    if last.errors:
        line += f"\nError: {escape(clip(last.errors[0], MAX_ERROR))}"
    return line


def _next_run_line(status: SyncStatus, sync: Sync) -> str:
    if sync.active is False:
        return "Its schedule is paused."
    if status.next_execution_time is None:
        return "No run is scheduled."
    return f"Next scheduled run: {when(status.next_execution_time)}."


def nothing_running(sync: Sync, status: SyncStatus) -> View:
    return (
        Builder()
        .section(f"{sync_label(sync.name, sync.id)} is not running: nothing to cancel.")
        .context(_last_run_line(status) + "\n" + _next_run_line(status, sync))
        .view()
    )


def sync_status(sync: Sync, status: SyncStatus) -> View:
    label = sync_label(sync.name, sync.id)
    current = status.current_execution
    if current is not None and not current.status.is_terminal:
        head = f"{label} is running.\n" + "\n".join(execution_lines(current))
    else:
        head = f"{label} is not running."
    details = [_last_run_line(status), _next_run_line(status, sync), f"Sync {id_code(sync.id)}"]
    return Builder().section(head).context("\n".join(details)).view()


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


def sync_list(
    lines: Sequence[SyncLine], *, running_only: bool, hidden: int, now: datetime, age: float = 0.0
) -> View:
    """At most MAX_LIST syncs; `hidden` counts the ones left out (cut, or not looked at).
    `age`: seconds since the oldest of what it shows was read (listings are shared a while)."""
    what = "running syncs" if running_only else "syncs"
    if not lines:
        return plain("No sync is running right now." if running_only else "Polytomic has no syncs.")
    builder = Builder().section(bold(f"{len(lines) + hidden} {what}"))
    for line in lines:
        sync = line.sync
        if line.error:
            state = f"status unknown ({escape(clip(line.error, 80))})"
        elif line.current is not None and line.current.status.is_active:
            state = f"{bold(status_text(line.current.status.value))} for {_running_for(line.current, now)}"
        else:
            state = "not running" + (" · schedule paused" if sync.active is False else "")
        accessory = None
        if line.may_cancel and line.current is not None and line.current.status.is_active:
            accessory = button("Cancel…", LIST_CANCEL_ACTION, list_cancel_value(sync.id), style="danger")
        label = sync_label(sync.name, sync.id, id_if_changed=False)  # the ID is on the line anyway
        source = f"{label}{target(sync)}\n{state} · {id_code(sync.id)}"
        builder.section(source, accessory)
    if hidden:
        builder.context(
            f"…and {hidden} more not shown. Name a sync to see it: {code(escape(USAGE['status']))}"
        )
    if age >= 1:
        builder.context(
            f"As Polytomic said {duration(round(age))} ago: a list is shared for a few seconds. "
            f"{code(escape(USAGE['status']))} reads one sync now."
        )
    return builder.view()


def no_such_name(name: str) -> View:
    return plain(
        f"No sync is named {bold(escape(clip(name_text(name), MAX_NAME)))} (names must match exactly, "
        f"case aside). {code('/polytomic list')} shows them all."
    )


def too_many_to_search(name: str, looked_at: int, verb: str) -> View:
    """A name look-up stopped at its cap of pages: a sync of that name may be past them."""
    return plain(
        f"Too many syncs to search by name; use the ID. I looked at {looked_at:,} syncs and "
        f"Polytomic has more, so I can't be sure which one is named "
        f"{bold(escape(clip(name_text(name), MAX_NAME)))}. "
        f"Run {code(escape(f'/polytomic {verb} <sync ID>'))} with the ID (or URL) from Polytomic."
    )
