"""Every word of an alert: the alert message (one per failure streak of a sync in a channel),
its thread replies (a further failure, the recovery), a finished-run notice, and the flood
digest. Rendered from the rows alone (and the time), so whichever process holds a row renders
the same message; everything Polytomic sent is escaped and clipped (bot.views.blocks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.db.models import Alert, AlertDigest, AlertFailure, Operation
from bot.views.blocks import (
    MAX_ERROR,
    Block,
    Builder,
    View,
    bold,
    button,
    clip,
    code,
    confirm_dialog,
    escape,
    icon,
    id_code,
    name_text,
    rows,
    sync_label,
    user,
    when,
)
from bot.views.buttons import (
    ALERT_CANCEL_ACTION,
    ALERT_MUTE_DAY_ACTION,
    ALERT_MUTE_HOUR_ACTION,
    ALERT_PAUSE_ACTION,
    ALERT_RESTART_ACTION,
    ALERT_RESUME_ACTION,
    alert_value,
    restart_value,
)

MAX_DIGEST_LINES = 20  # syncs named in a digest; the rest are counted
_LINKABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def sync_link(sync_url: str | None, sync_id: str) -> str | None:
    """The sync's page in Polytomic's web app, where the URL pattern is known (POLYTOMIC_SYNC_URL):
    a bare URL, which Slack links in the blocks and the notification alike."""
    if sync_url is None or not _LINKABLE.match(sync_id):
        return None
    return f"In Polytomic: {escape(sync_url.replace('{sync_id}', sync_id))}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times in a row"


def _what_failed(status: str | None) -> str:
    return "completed with errors" if status == "completed_with_errors" else "failed"


def alert_message(
    alert: Alert,
    now: datetime,
    *,
    sync_url: str | None,
    muted_until: datetime | None = None,
    restart: Operation | None = None,
) -> View:
    """The alert: what failed, Polytomic's error, rows, when, a link; and the buttons."""
    label = sync_label(alert.sync_name, alert.sync_id)
    if alert.state == "recovered":
        head = (
            f"{icon(':white_check_mark:')}{label} {bold('recovered')} after "
            f"{alert.failures} failure{'s' if alert.failures != 1 else ''} "
            f"({rows(alert.recovered_rows)} written {when(alert.recovered_at)})."
        )
    else:
        head = (
            f"{icon(':rotating_light:')}{label} {bold(_what_failed(alert.last_status))} "
            f"{_times(alert.failures)}."
        )
    lines = [head]
    error = alert.last_error or "Polytomic gave no error message."
    lines.append(f"Last failure {when(alert.last_at)}: {escape(clip(error, MAX_ERROR))}")
    lines.append(f"Rows written by that run: {rows(alert.last_rows)}.")
    link = sync_link(sync_url, alert.sync_id)
    if link:
        lines.append(link)
    notes = [f"Sync {id_code(alert.sync_id)} · last run {id_code(alert.last_execution_id or '?')}"]
    if alert.paused_at is not None:
        notes.append(f"Schedule paused by {user(alert.paused_by or '?')} {when(alert.paused_at)}.")
    if muted_until is not None and muted_until > now:
        notes.append(f"Muted here until {when(muted_until)}: further failures post nothing new.")
    if restart is not None:
        notes.append(f"Restart requested by {user(restart.requested_by)}: {escape(restart.state)}.")
    builder = Builder().section("\n".join(lines)).context("\n".join(notes))
    builder.actions(f"alert_{alert.id}", alert_buttons(alert, restart))
    return builder.view()


def alert_buttons(alert: Alert, restart: Operation | None) -> list[Block]:
    shown = name_text(alert.sync_name or "") or alert.sync_id
    buttons: list[Block] = []
    value = alert_value(alert.id)
    if alert.state == "open":
        restart_button = button(
            "Restart sync", ALERT_RESTART_ACTION, restart_value(alert.id, alert.failures), "primary"
        )
        restart_button["confirm"] = _confirm(
            "Restart this sync?", f"Polytomic will start a new run of {shown} now.", "Restart"
        )
        buttons.append(restart_button)
    if restart is not None and restart.state == "running":
        buttons.append(button("Cancel", ALERT_CANCEL_ACTION, value, "danger"))
    if alert.paused_at is None:
        if alert.state == "open":
            pause_button = button("Pause schedule", ALERT_PAUSE_ACTION, value, "danger")
            pause_button["confirm"] = _confirm(
                "Pause this sync's schedule?",
                f"Polytomic will start no scheduled runs of {shown} until someone resumes it.",
                "Pause",
            )
            buttons.append(pause_button)
    else:
        buttons.append(button("Resume schedule", ALERT_RESUME_ACTION, value))
    if alert.state == "open":
        buttons.append(button("Mute for 1 h", ALERT_MUTE_HOUR_ACTION, value))
        buttons.append(button("Mute for 1 day", ALERT_MUTE_DAY_ACTION, value))
    return buttons


def _confirm(title: str, text: str, confirm: str) -> Block:
    dialog = confirm_dialog(title, text, confirm)
    dialog["deny"] = {"type": "plain_text", "text": "Not now"}
    return dialog


def failure_reply(alert: Alert, failure: AlertFailure) -> View:
    """A further failure of the streak, in the alert's thread."""
    error = escape(clip(failure.error or "Polytomic gave no error message.", MAX_ERROR))
    return (
        Builder()
        .section(
            f"Failure {failure.seq} of {sync_label(alert.sync_name, alert.sync_id)} "
            f"{when(failure.at)} ({_what_failed(failure.status)}, {rows(failure.rows)} written): {error}"
        )
        .view()
    )


def recovery_reply(alert: Alert) -> View:
    return (
        Builder()
        .section(
            f"{icon(':white_check_mark:')}{sync_label(alert.sync_name, alert.sync_id)} recovered after "
            f"{alert.failures} failure{'s' if alert.failures != 1 else ''}: the run of "
            f"{when(alert.recovered_at)} completed ({rows(alert.recovered_rows)} written)."
        )
        .view()
    )


def notice_message(alert: Alert, *, sync_url: str | None) -> View:
    """A run that ended outside a streak, for a channel that asked for finished (or all) runs."""
    label = sync_label(alert.sync_name, alert.sync_id)
    status = alert.last_status or "finished"
    lines = [f"{icon(':bell:')}{label} {bold(escape(clip(status, 40)))} {when(alert.last_at)}."]
    lines.append(f"Rows written: {rows(alert.last_rows)}.")
    if alert.last_error:
        lines.append(f"Errors: {escape(clip(alert.last_error, MAX_ERROR))}")
    link = sync_link(sync_url, alert.sync_id)
    if link:
        lines.append(link)
    return Builder().section("\n".join(lines)).context(f"Sync {id_code(alert.sync_id)}").view()


def digest_message(digest: AlertDigest, members: Sequence[Alert], target_name: str | None) -> View:
    """The flood digest: how many syncs failed since when, edited as more arrive."""
    count = len(members)
    where = f" to {bold(escape(clip(name_text(target_name), 150)))}" if target_name else ""
    head = (
        f"{icon(':rotating_light:')}{bold(f'{count} syncs')}{where} failed since {when(digest.opened_at)}."
        if count != 1
        else f"{icon(':rotating_light:')}{bold('1 sync')}{where} failed since {when(digest.opened_at)}."
    )
    recovered = sum(1 for m in members if m.state == "recovered")
    lines = []
    for member in members[:MAX_DIGEST_LINES]:
        mark = "recovered" if member.state == "recovered" else _times(member.failures)
        lines.append(f"• {sync_label(member.sync_name, member.sync_id)}: {mark}")
    if count > MAX_DIGEST_LINES:
        lines.append(f"… and {count - MAX_DIGEST_LINES} more.")
    notes = []
    if recovered:
        notes.append(f"{recovered} of them recovered since.")
    if digest.closed_at is not None:
        notes.append(f"Quiet since {when(digest.last_at)}: later failures are alerted one by one again.")
    else:
        notes.append("Single alerts are held back while this digest is live; it is edited as more arrive.")
    builder = Builder().section(head + "\n" + "\n".join(lines)).context("\n".join(notes))
    return builder.view()


def channel_gone_note(channel_id: str, reason: str, scopes: Sequence[str]) -> View:
    """Told to whoever subscribed when the channel can no longer be posted in."""
    listed = ", ".join(scopes[:10]) + (" …" if len(scopes) > 10 else "")
    return (
        Builder()
        .section(
            f"I can no longer post alerts in <#{channel_id}> ({code(escape(clip(reason, 60)))}), so its "
            f"subscriptions are disabled: {listed}. Invite me back and subscribe again to resume them."
        )
        .view()
    )
