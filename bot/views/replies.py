"""Answers to the person who typed a command or clicked a button, through their response_url:
usage and help, denials, what a Polytomic failure means, and the outcome of each click
(confirm, retry, resume). What Polytomic says about syncs is in `bot.views.syncs`, and the
permission answers (why, grants, audit) in `bot.views.access`.
"""

from __future__ import annotations

from bot.commands import USAGE, Invalid
from bot.db.models import Operation
from bot.operations import State
from bot.permissions import Decision
from bot.polytomic import (
    Execution,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from bot.views.blocks import MAX_ERROR, View, bold, clip, code, escape, id_code, plain, sync_label, trusted
from bot.views.notes import already_requested_note, denied_note, stale_note


def usage(invalid: Invalid) -> View:
    # Placeholders such as <sync ID> would be read by Slack as links: escaped like everything else.
    return plain(
        f"{trusted(invalid.problem)}\nUsage: {code(escape(invalid.usage))}\n"
        f"See {code('/polytomic help')} for every command."
    )


EXAMPLE_ID = "248df4b7-aa70-47b8-a036-33ac447e668d"

# (subcommand, the permission it needs somewhere, what it does, an example)
HELP: tuple[tuple[str, str | None, str, str], ...] = (
    (
        "cancel",
        "cancel",
        "show the running execution and offer to cancel it; several syncs, every running one "
        "or those writing to a connection at once, followed in one summary",
        "/polytomic cancel running to Salesforce prod",
    ),
    (
        "pause",
        "pause",
        "pause the schedules of several syncs at once (runs in progress go on)",
        "/polytomic pause to Salesforce prod",
    ),
    ("resume", "pause", "resume the schedules the bot paused", "/polytomic resume to Salesforce prod"),
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
    (
        "subscribe",
        "subscribe",
        "alert this channel when syncs fail (or, with finished or all, when they finish)",
        "/polytomic subscribe to Salesforce",
    ),
    ("unsubscribe", "subscribe", "stop those alerts here", f"/polytomic unsubscribe {EXAMPLE_ID}"),
    ("subscriptions", None, "what this channel is subscribed to", "/polytomic subscriptions"),
    ("start", "start", "start a run now, after a confirm", '/polytomic start "Nightly orders"'),
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


def denied(decision: Decision) -> View:
    return plain(denied_note(decision))


def groups_unavailable() -> View:
    return plain("I couldn't check your Slack user groups just now. Try again in a minute.")


def polytomic_failure(error: PolytomicError, sync_id: str | None) -> View:
    """What a Polytomic error means for the user, naming the setting when it is the bot's key."""
    detail = f" Polytomic said: {escape(clip(error.message, MAX_ERROR))}" if error.message else ""
    target = id_code(sync_id) if sync_id else "that"
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


# ---- clicks ----------------------------------------------------------------------------------


def invalid_button() -> View:
    return plain(f"That button is not valid any more. Run {code('/polytomic cancel')} again.")


def not_recorded() -> View:
    """A confirm click the database could not take: known not written, so no cancel follows."""
    return plain("I couldn't record that just now (database unavailable). Nothing was sent; try again.")


def recorded_in_doubt(sync_id: str | None = None, *, check: str | None = None) -> View:
    """A write whose COMMIT got no answer: it may have happened (a cancel may follow). `check`:
    the command that shows whether it did (default: `/polytomic status <sync_id>`)."""
    target = check or (f"/polytomic status {sync_id}" if sync_id else "/polytomic status <sync>")
    return plain(
        "The database did not answer in time, so I can't tell whether that was recorded; "
        f"check {code(escape(target))} in a minute before trying again."
    )


def not_changed_database() -> View:
    """A write the database refused or never got: known not to have happened."""
    return plain("I couldn't write to the database just now, so nothing was changed. Try again in a minute.")


def database_failure() -> View:
    """An answer cut short by the database, where what was done before it may stand."""
    return plain(
        "I couldn't reach the database just now, so I couldn't finish that. Try again in a minute; "
        f"{code(escape('/polytomic status <sync>'))} shows where a sync stands."
    )


def answer_failed() -> View:
    """An answer cut short by a fault of the bot's own (it is logged)."""
    return plain(
        "Something went wrong on my side and I couldn't finish that. Try again; if it keeps "
        "happening, tell whoever runs the bot (the error is in its log)."
    )


def already_requested(op: Operation) -> View:
    return plain(already_requested_note(op))


def stale(op: Operation, execution: Execution | None, superseded: bool) -> View:
    return plain(stale_note(op, execution, superseded))


def released(op: Operation) -> View:
    """Why a confirmed cancel was not sent (denied, stale) or not taken (rejected)."""
    reason = op.last_error or "Nothing was canceled."
    if op.state == State.REJECTED:
        label = sync_label(op.sync_name, op.sync_id)
        return plain(f"{label} was {bold('not canceled')}. {escape(clip(reason, MAX_ERROR))}")
    # A note kept on the row (bot.views.notes: denied_note, stale_note, already_requested_note).
    return plain(reason)


def retry_sent() -> View:
    return plain("Sending the cancel to Polytomic again.")


def retry_refused() -> View:
    return plain("That was already retried, or the run has ended. Nothing more was sent.")


def resumed(op: Operation) -> View:
    return plain(f"Resumed the schedule of {sync_label(op.sync_name, op.sync_id)}.")


def already_resumed(op: Operation) -> View:
    return plain(f"The schedule of {sync_label(op.sync_name, op.sync_id)} was already resumed.")
