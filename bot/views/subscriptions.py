"""What the bot says about subscriptions and starts: the channel's "subscribed" message, the
answers to subscribe / unsubscribe / subscriptions, and the start prompt with its button.
Names come from Polytomic: escaped and clipped (bot.views.blocks)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands import USAGE
from bot.db.models import Subscription
from bot.polytomic import Sync
from bot.polytomic.connections import AmbiguousConnection, ConnectionLookupError
from bot.views.blocks import (
    MAX_NAME,
    Builder,
    View,
    bold,
    button,
    clip,
    code,
    confirm_dialog,
    escape,
    id_code,
    name_text,
    plain,
    sync_label,
    user,
    when,
)
from bot.views.buttons import START_CONFIRM_ACTION, start_value

_MODE_WORDS = {
    "failures": "failures",
    "finished": "failures and finished runs",
    "all": "every finished, failed or canceled run",
}


def scope_text(kind: str, scope_id: str, name: str | None) -> str:
    if kind == "all":
        return bold("every sync")
    if kind == "connection":
        shown = bold(escape(clip(name_text(name), MAX_NAME))) if name else id_code(scope_id)
        return f"every sync writing to {shown}"
    return sync_label(name, scope_id)


def subscribed_post(user_id: str, kind: str, scope_id: str, name: str | None, mode: str) -> View:
    """Posted in the channel: everyone sees what it will hear of, and who set it up."""
    return (
        Builder()
        .section(
            f"{user(user_id)} subscribed this channel to {_MODE_WORDS.get(mode, mode)} of "
            f"{scope_text(kind, scope_id, name)}."
        )
        .context(f"{code(escape(USAGE['unsubscribe']))} stops it.")
        .view()
    )


def subscription_changed(changed: str, kind: str, scope_id: str, name: str | None, mode: str | None) -> View:
    what = scope_text(kind, scope_id, name)
    texts = {
        "added": f"Subscribed: this channel hears of {_MODE_WORDS.get(mode or '', mode)} of {what}.",
        "updated": f"Updated: this channel now hears of {_MODE_WORDS.get(mode or '', mode)} of {what}.",
        "unchanged": f"This channel was already subscribed to {_MODE_WORDS.get(mode or '', mode)} of {what}; "
        "nothing changed.",
        "removed": f"Unsubscribed: this channel no longer hears of {what}.",
        "absent": f"This channel had no subscription to {what}; nothing changed.",
    }
    return plain(texts[changed])


def not_in_channel() -> View:
    return plain(
        f"I can't post in this channel, so I can't alert here. {code('/invite')} me to it "
        "(in a private channel, that is the only way), then subscribe again. Nothing was changed."
    )


def channel_unusable(error: str) -> View:
    return plain(f"Slack would not let me post here ({code(escape(clip(error, 60)))}). Nothing was changed.")


def slack_unavailable() -> View:
    return plain(
        'Slack did not take the "subscribed" message just now; nothing was changed. Try again shortly.'
    )


def connection_not_found(error: ConnectionLookupError) -> View:
    query = bold(escape(clip(name_text(error.query), MAX_NAME)))
    if isinstance(error, AmbiguousConnection):
        ids = ", ".join(
            f"{escape(clip(name_text(c.name or ''), 60))} {id_code(c.id)}" for c in error.candidates[:10]
        )
        return plain(f"Several connections are named {query}: {ids}. Use its ID after {code('to')}.")
    return plain(f"No connection has the name or ID {query}.")


def subscriptions_list(subs: Sequence[Subscription], *, every_channel: bool) -> View:
    head = "Subscriptions in every channel" if every_channel else "This channel's subscriptions"
    lines = [bold(head)]
    if not subs:
        lines.append(f"None yet. {code(escape(USAGE['subscribe']))} adds one.")
    for sub in subs[:100]:
        where = f"<#{sub.channel_id}> · " if every_channel else ""
        state = ""
        if sub.disabled_at is not None:
            reason = escape(clip(sub.disabled_reason or "", 40))
            state = f" · {bold('disabled')} {when(sub.disabled_at)} ({reason})"
        lines.append(
            f"• {where}{scope_text(sub.scope_kind, sub.scope_id, sub.scope_name)}: {escape(sub.mode)}"
            f" · by {user(sub.created_by)}{state}"
        )
    if len(subs) > 100:
        lines.append(f"… and {len(subs) - 100} more.")
    return plain("\n".join(lines))


def start_prompt(sync: Sync) -> View:
    shown = name_text(sync.name or "") or sync.id
    start_button = button("Start sync", START_CONFIRM_ACTION, start_value(sync.id), "primary")
    dialog = confirm_dialog("Start this sync?", f"Polytomic will start a run of {shown} now.", "Start")
    dialog["deny"] = {"type": "plain_text", "text": "Not now"}
    dialog["style"] = "primary"
    start_button["confirm"] = dialog
    return (
        Builder()
        .section(f"Start a run of {sync_label(sync.name, sync.id)} now?")
        .context(f"Sync {id_code(sync.id)}")
        .actions("start_prompt", [start_button])
        .view()
    )
