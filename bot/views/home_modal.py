"""The modal a Home tab's Cancel… opens (views.open), and what it turns into once submitted
(`response_action: update`): dicts of Slack's view shape, pure, beside the Home tab's view
(bot/views/home.py). Names are shown through `sync_label`: escaped and clipped."""

from __future__ import annotations

from typing import Any

from bot.db.models import Operation
from bot.views.blocks import Block, Builder, clip, id_code, sync_label, user
from bot.views.buttons import HOME_CANCEL_MODAL, home_cancel_value


def _modal(title: str, blocks: list[Block], **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": clip(title, 24)},
        "blocks": blocks,
        **extra,
    }


def cancel_modal(sync_id: str, execution_id: str, name: str | None) -> dict[str, Any]:
    """The "are you sure?" a Home tab's Cancel… opens (views.open): submitting it is the confirm
    click. What it names comes from the button (its IDs) and a short cache (the name)."""
    label = sync_label(name, sync_id)
    view = (
        Builder()
        .section(f"Cancel the running execution of {label}?")
        .context(f"Execution {id_code(execution_id)}. The status message comes to your messages with me.")
        .view()
    )
    return _modal(
        "Cancel a sync",
        view.blocks,
        callback_id=HOME_CANCEL_MODAL,
        private_metadata=home_cancel_value(sync_id, execution_id),
        submit={"type": "plain_text", "text": "Cancel sync"},
        close={"type": "plain_text", "text": "Keep it running"},
    )


def modal_said(source: str) -> dict[str, Any]:
    """What a submitted modal turns into (`response_action: update`): one safe source."""
    return _modal(
        "Cancel a sync",
        Builder().section(source).view().blocks,
        close={"type": "plain_text", "text": "Close"},
    )


def modal_recorded(sync_id: str, name: str | None) -> dict[str, Any]:
    return modal_said(
        f"Asked to cancel {sync_label(name, sync_id)}. I check your permission and that the run is "
        "still the one you saw, then send the cancel; its status message comes to your messages "
        "with me (the Messages tab)."
    )


def modal_held(op: Operation) -> dict[str, Any]:
    return modal_said(
        f"{user(op.requested_by)} already asked to cancel this run of "
        f"{sync_label(op.sync_name, op.sync_id)}: nothing more was sent."
    )


def modal_no_channel() -> dict[str, Any]:
    return modal_said("I don't know your messages with me yet: open my Home tab again, then try once more.")


def modal_not_recorded(in_doubt: bool) -> dict[str, Any]:
    if in_doubt:
        return modal_said(
            "The database did not answer in time, so I can't tell whether that was recorded; "
            "look at your last operations on the Home tab in a minute before trying again."
        )
    return modal_said("I couldn't record that just now (database unavailable). Nothing was sent; try again.")
