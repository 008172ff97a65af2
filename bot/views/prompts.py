"""The questions the bot asks before it acts: the cancel prompt (Cancel sync / Cancel and
pause / Keep running, each dangerous one behind a confirm dialog) and the pick-a-sync choice
when several syncs share a name. Their buttons carry the values of `bot.views.buttons`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.polytomic import Execution, Sync
from bot.views.blocks import (
    MAX_NAME,
    Builder,
    View,
    bold,
    button,
    clip,
    confirm_dialog,
    escape,
    id_code,
    ids,
    name_text,
    sync_label,
)
from bot.views.buttons import (
    CONFIRM_ACTION,
    DISMISS_ACTION,
    PAUSE_CONFIRM_ACTION,
    PICK_ACTION,
    confirm_value,
    pick_value,
)
from bot.views.syncs import MAX_LIST, execution_lines, target


def cancel_prompt(sync: Sync, execution: Execution, execution_id: str, *, may_pause: bool = False) -> View:
    value = confirm_value(sync.id, execution_id)
    shown = name_text(sync.name or "") or sync.id
    # plain_text is never parsed for mentions or links, so the name goes in as it is.
    cancel_button = button("Cancel sync", CONFIRM_ACTION, value, style="danger")
    cancel_button["confirm"] = confirm_dialog(
        "Cancel this sync run?",
        f"Polytomic will stop the run of {shown} now. Rows already written stay.",
        "Cancel the run",
    )
    buttons = [cancel_button]
    if may_pause:
        pause_button = button("Cancel and pause the schedule", PAUSE_CONFIRM_ACTION, value, style="danger")
        pause_button["confirm"] = confirm_dialog(
            "Cancel the run and pause the schedule?",
            f"Polytomic will stop the run of {shown} now and start no new scheduled "
            "runs until someone resumes the schedule.",
            "Cancel and pause",
        )
        buttons.append(pause_button)
    buttons.append(button("Keep running", DISMISS_ACTION, value))
    head = f"{sync_label(sync.name, sync.id)} is running. Cancel it?"
    return (
        Builder()
        .section(head + "\n" + "\n".join(execution_lines(execution)))
        .context(ids(sync.id, execution_id))
        .actions("cancel_prompt", buttons)
        .view()
    )


def pick_sync(matches: Sequence[Sync], verb: str, name: str) -> View:
    """Several syncs have that name: one button each, leading to `verb` on that one."""
    builder = Builder().section(
        f"{len(matches)} syncs are named {bold(escape(clip(name_text(name), MAX_NAME)))}. Which one?"
    )
    for sync in matches[:MAX_LIST]:
        source = f"{sync_label(sync.name, sync.id, id_if_changed=False)}{target(sync)} · {id_code(sync.id)}"
        builder.section(source, button("Choose", PICK_ACTION, pick_value(verb, sync.id)))
    return builder.view()
