"""A stop's words (many syncs canceled, paused or resumed from one command): the prompt, the
one summary message in the channel, its thread replies, and the incident channel's notice and
outcome. Each is rendered from the stop's row and its tally (bot/stops.py), and its text carries
the same facts as its blocks (bot.views.blocks.Builder).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.db.models import Stop
from bot.stops import Failure, Tally
from bot.views.blocks import (
    MAX_NAME,
    Builder,
    View,
    bold,
    button,
    channel,
    clip,
    code,
    confirm_dialog,
    escape,
    icon,
    name_text,
    sync_label,
    user,
)
from bot.views.buttons import (
    STOP_ABORT_ACTION,
    STOP_CONFIRM_ACTION,
    STOP_DISMISS_ACTION,
    STOP_PAUSE_CONFIRM_ACTION,
    STOP_RESUME_ACTION,
    stop_prompt_value,
    stop_value,
)

SHOWN = 20  # names a prompt or a reply lists before "and N more"
FAILURES_SHOWN = 40
FAILURE_LINES = 8  # a sync's line is at most ~360 characters: 8 fit a section


@dataclass(frozen=True)
class Named:
    """A sync as a prompt lists it; `why`: why it is left out (plain words), if it is."""

    sync_id: str
    name: str | None
    why: str | None = None


def _syncs(count: int) -> str:
    return f"{count:,} sync{'s' if count != 1 else ''}"


def _schedules(count: int) -> str:
    return f"{count:,} schedule{'s' if count != 1 else ''}"


def where(label: str) -> str:
    """' to <connection>' for a stop of a connection's syncs, else nothing."""
    return f" to {bold(escape(clip(name_text(label), MAX_NAME)))}" if label else ""


def _names(syncs: Sequence[Named], limit: int = SHOWN) -> str:
    lines = [
        f"• {sync_label(s.name, s.sync_id)}" + (f": {escape(s.why)}" if s.why else "") for s in syncs[:limit]
    ]
    if len(syncs) > limit:
        lines.append(f"…and {len(syncs) - limit:,} more")
    return "\n".join(lines)


# ---- the prompt (ephemeral) --------------------------------------------------------------


def stop_prompt(
    verb: str,
    label: str,
    included: Sequence[Named],
    excluded: Sequence[Named],
    prompt_id: str,
    *,
    may_pause: bool,
) -> View:
    """What would be stopped, who is left out, and the buttons, each behind a dialog with the count."""
    n = len(included)
    builder = Builder()
    if verb == "cancel":
        head = f"Cancel {_syncs(n)} running{where(label)}?"
    elif verb == "pause":
        head = f"Pause the schedules of {_syncs(n)}{where(label)}? Runs in progress go on."
    else:
        head = f"Resume the schedules of {_syncs(n)}{where(label)} that the bot paused?"
    builder.section(f"{head}\n{_names(included)}")
    if excluded:
        builder.section(f"Left out, {_syncs(len(excluded))}:\n{_names(excluded)}")
    value = stop_prompt_value(prompt_id)
    buttons = []
    if verb == "cancel":
        first = button(f"Cancel {_syncs(n)}", STOP_CONFIRM_ACTION, value, style="danger")
        first["confirm"] = confirm_dialog(
            f"Cancel {_syncs(n)}?",
            f"Polytomic will stop the runs of {_syncs(n)} now. Rows already written stay.",
            f"Cancel {_syncs(n)}",
        )
        buttons.append(first)
        if may_pause:
            both = button(
                f"Cancel {n:,} and pause their schedules", STOP_PAUSE_CONFIRM_ACTION, value, style="danger"
            )
            both["confirm"] = confirm_dialog(
                f"Cancel {_syncs(n)} and pause their schedules?",
                f"The schedules of {_syncs(n)} are paused first, then their runs canceled.",
                f"Cancel and pause {n:,}",
            )
            buttons.append(both)
    else:
        action = "Pause" if verb == "pause" else "Resume"
        first = button(f"{action} {_schedules(n)}", STOP_CONFIRM_ACTION, value, style="danger")
        first["confirm"] = confirm_dialog(
            f"{action} {_schedules(n)}?", f"{action} the schedules of {_syncs(n)} now.", f"{action} {n:,}"
        )
        buttons.append(first)
    buttons.append(button("Keep running" if verb == "cancel" else "Leave them", STOP_DISMISS_ACTION, value))
    return builder.actions("stop_prompt", buttons).view()


def nothing_to_stop(verb: str, label: str, excluded: Sequence[Named]) -> View:
    what = {
        "cancel": f"No sync{where(label)} is running",
        "pause": f"No sync{where(label)} has an active schedule",
        "resume": f"No schedule of a sync{where(label)} was paused by the bot",
    }[verb]
    builder = Builder().section(f"{what}: nothing to {verb}.")
    if excluded:
        builder.section(f"Left out, {_syncs(len(excluded))}:\n{_names(excluded)}")
    return builder.view()


def too_many(verb: str, count: int, limit: int) -> View:
    return (
        Builder()
        .section(
            f"That selects {_syncs(count)}; one {verb} holds at most {limit:,}. "
            f"Narrow it: name a connection ({code('running to ' + escape('<connection>'))}) or the syncs."
        )
        .view()
    )


def no_such_connection(query: str) -> View:
    return (
        Builder()
        .section(
            f"No single connection has the ID or name {bold(escape(clip(name_text(query), MAX_NAME)))}. "
            "Use its ID or its Polytomic URL."
        )
        .view()
    )


def ambiguous_name(name: str, matches: Sequence[Any]) -> View:
    return (
        Builder()
        .section(
            f"{len(matches):,} syncs are named {bold(escape(clip(name_text(name), MAX_NAME)))}: "
            "name them by ID."
        )
        .view()
    )


def aborted(won: bool) -> View:
    if won:
        return (
            Builder()
            .section("Aborted: no further cancel or pause is sent. What was sent already stays.")
            .view()
        )
    return Builder().section("That stop is over or was aborted already: nothing changed.").view()


def resume_asked(won: bool, count: int) -> View:
    if won:
        return (
            Builder()
            .section(f"Resuming {_schedules(count)}; the summary's thread will say when it is done.")
            .view()
        )
    return (
        Builder()
        .section("Those schedules were resumed already (or are being resumed): nothing more was sent.")
        .view()
    )


def prompt_expired() -> View:
    return (
        Builder().section("That prompt is more than 10 minutes old, so here is what it selects now:").view()
    )


def already_confirmed() -> View:
    return (
        Builder()
        .section("That was confirmed already: follow the summary in the channel. Nothing more was sent.")
        .view()
    )


# ---- the summary (one message in the channel) ---------------------------------------------


def _parts(t: Tally) -> list[str]:
    parts = [
        (t.canceled, "canceled"),
        (t.canceling, "canceling"),
        (t.waiting, "waiting to be sent"),
        (t.completed, "completed before the cancel landed"),
        (t.failed, "failed"),
        (t.interrupted, "interrupted"),
        (t.changed, "not canceled: the run had changed or ended"),
        (t.elsewhere, "already being canceled by someone else"),
        (t.refused, "refused by Polytomic"),
        (t.denied, "not allowed"),
        (t.not_sent, "not sent (aborted)"),
        (t.paused, "paused"),
        (t.pausing, "to pause"),
        (t.already_paused, "already paused (left as they were)"),
        (t.pause_failed, "could not be paused"),
        (t.resumed, "resumed"),
        (t.resume_failed, "could not be resumed"),
    ]
    return [f"{count:,} {words}" for count, words in parts if count]


def summary_head(stop: Stop, t: Tally, *, final: bool) -> str:
    n = _syncs(stop.size)
    if stop.kind == "pause":
        verb = "Paused the schedules of" if final else "Pausing the schedules of"
    elif stop.kind == "resume":
        verb = "Resumed the schedules of" if final else "Resuming the schedules of"
    else:
        verb = "Stopped" if final else "Stopping"
    tail = " and pausing their schedules" if stop.kind == "cancel_and_pause" and not final else ""
    counts = ", ".join(_parts(t)) or "nothing sent yet"
    return f"{verb} {n}{where(stop.label)}{tail}: {counts}."


def summary(stop: Stop, t: Tally, *, final: bool, resumable: int) -> View:
    lines = [f"{icon(':rotating_light:')}{summary_head(stop, t, final=final)}"]
    notes = [f"Requested by {user(stop.requested_by)}."]
    if stop.aborted_at is not None:
        notes.append(
            f"The rest was aborted by {user(stop.aborted_by or '?')}: no further cancel or pause is sent."
        )
    if final and t.failures:
        notes.append(f"{len(t.failures):,} did not go as asked: see the thread.")
    if stop.resume_asked_at is not None:
        notes.append(f"Resume asked by {user(stop.resume_asked_by or '?')}.")
    builder = Builder().section("\n".join(lines)).context(" ".join(notes))
    if not final and stop.aborted_at is None:
        abort = button("Abort the rest", STOP_ABORT_ACTION, stop_value(stop.id), style="danger")
        abort["confirm"] = confirm_dialog(
            "Abort the rest?",
            "No further cancel or pause is sent; what was sent already stays.",
            "Abort the rest",
        )
        builder.actions("stop_abort", [abort])
    if final and resumable and stop.resume_asked_at is None:
        resume = button(f"Resume the {_schedules(resumable)}", STOP_RESUME_ACTION, stop_value(stop.id))
        resume["confirm"] = confirm_dialog(
            f"Resume {_schedules(resumable)}?",
            f"Reactivates the {_schedules(resumable)} this stop paused; "
            "schedules that were paused before stay paused.",
            f"Resume {resumable:,}",
        )
        builder.actions("stop_resume", [resume])
    return builder.view()


def failures_reply(failures: Sequence[Failure]) -> View:
    """The final summary's thread reply: each sync that did not go as asked, and why; in
    sections of FAILURE_LINES lines, each within Slack's 3,000 characters."""
    builder = Builder().section(f"{_syncs(len(failures))} did not go as asked:")
    shown = [Named(f.sync_id, f.name, clip(f.why, 200)) for f in failures[:FAILURES_SHOWN]]
    for start in range(0, len(shown), FAILURE_LINES):
        builder.section(_names(shown[start : start + FAILURE_LINES], FAILURE_LINES))
    if len(failures) > FAILURES_SHOWN:
        builder.section(f"…and {len(failures) - FAILURES_SHOWN:,} more")
    return builder.view()


def resumed_reply(stop: Stop, t: Tally) -> View:
    line = f"{user(stop.resume_asked_by or '?')} resumed {_schedules(t.resumed)}"
    if t.resume_failed:
        line += f"; {t.resume_failed:,} could not be resumed"
    return Builder().section(line + ".").view()


# ---- the incident channel: one notice, one outcome ---------------------------------------


def stop_notice(stop: Stop) -> View:
    what = {
        "cancel": "cancellation of",
        "cancel_and_pause": "cancellation (and a pause of the schedules) of",
        "pause": "a pause of the schedules of",
        "resume": "a resume of the schedules of",
    }.get(stop.kind, "a stop of")
    who = user(stop.requested_by)
    head = f"{icon(':rotating_light:')}{who} requested {what} {_syncs(stop.size)}{where(stop.label)}"
    return Builder().section(f"{head}{channel(stop.channel_id)}.").view()


def stop_outcome(stop: Stop, t: Tally) -> View:
    return Builder().section(summary_head(stop, t, final=True)).view()
