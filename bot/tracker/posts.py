"""Keep one Slack message in line with its view: post it, edit it when what it shows changed,
post it again when it was deleted, and record a permanent error instead of trying forever.

Written for any row and any message: a `Message` names the row's fields that hold the
message's ts, the digest of what it shows, and the error that stopped it. The status message
and the incident notice (and its thread replies) are the first users; an incident-mode summary
or a failure alert, rows of their own, are kept in line the same way with a `Message` of their
own. Every effect is recorded on the row as it lands (through `record`, the pass's conditional
write, which the pass may hold until its next write: `flush` comes before every Slack call
here), so no effect is repeated by this process or by the next holder of the row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.slack import SlackError, SlackFailure, SlackGateway
from bot.tracker.outcome import DONE, Doing, Outcome, from_error
from bot.views.blocks import View

Record = Callable[..., None]  # record(**fields): write fields onto the row, under its lease
# flush(): what `record` was given is written by now. A caller whose `record` defers its write
# to the next one (the tracker's pass: bot.tracker.steps) is flushed before every Slack call
# here, so an effect is always on the row before the next effect is attempted.
Flush = Callable[[], None]


def _nothing_to_flush() -> None:
    return None


@dataclass(frozen=True)
class Message:
    """Where a row records one Slack message."""

    ts: str  # the field with the message's ts (None: not posted yet)
    error: str  # the field with the permanent Slack error that stopped it (None: none)
    digest: str | None = None  # the field with the digest of the view it shows; None: never edited
    # Slack errors on an edit that mean the message is gone or can no longer be edited ...
    gone: frozenset[str] = field(default_factory=frozenset)
    repost: bool = False  # ... after which it is posted afresh (True) or left as it is (False)


# The channel's status message: a deleted one is posted again (people follow it). Its digest
# is of the whole view; the state-only digest and the time of the edit ride along (`also`).
STATUS = Message(
    ts="status_ts",
    error="status_error",
    digest="status_progress_digest",
    gone=frozenset({"message_not_found"}),
    repost=True,
)
# The incident channel's notice: deleted or too old to edit, it stays as posted (a repost would
# leave its thread, and the replies in it, behind).
INCIDENT_NOTICE = Message(
    ts="incident_ts",
    error="incident_error",
    digest="incident_digest",
    gone=frozenset({"message_not_found", "cant_update_message", "edit_window_closed"}),
)
# Replies in the notice's thread: posted once, never edited.
INCIDENT_ESCALATION = Message(ts="incident_escalation_ts", error="incident_error")
INCIDENT_OUTCOME = Message(ts="incident_final_ts", error="incident_error")


def edit_due(row: Any, message: Message, view: View) -> bool:
    """Whether the posted message shows something other than `view` (and may still be edited)."""
    return (
        message.digest is not None
        and getattr(row, message.ts) is not None
        and getattr(row, message.error) is None
        and getattr(row, message.digest) != view.digest()
    )


def keep(
    slack: SlackGateway,
    row: Any,
    message: Message,
    view: View,
    *,
    channel: str,
    record: Record,
    holder: str | None = None,
    thread_ts: str | None = None,
    also: Mapping[str, Any] | None = None,
    flush: Flush = _nothing_to_flush,
    record_edit: Record | None = None,
) -> Outcome:
    """Bring `message` of `row` in line with `view`: post it when the row has none, edit it when
    its digest changed; `also` is recorded with either (`flush` is called before each Slack call:
    see `Flush`). Slack's rate limit gives `again` (the slot the gate handed `holder`), a
    transient failure `failed`, and a permanent one is recorded in the message's error field
    (DONE: nothing more will be tried). A successful edit is recorded through `record_edit` when
    given: an edit sent again shows the same thing, so its record may wait longer than a post's
    (see bot.tracker.steps.Pass.record_edit)."""
    if getattr(row, message.error) is not None:
        return DONE
    ts = getattr(row, message.ts)
    if ts is not None and not edit_due(row, message, view):
        return DONE
    sent = {**(also or {})}
    if message.digest is not None:
        sent[message.digest] = view.digest()
    post = partial(_post, slack, message, view, channel, record, flush, holder, thread_ts, sent)
    try:
        if ts is None:
            post()
            return DONE
        assert message.digest is not None  # only a message with a digest is ever edited
        try:
            flush()
            slack.update_message(channel, ts, view, holder=holder)
        except SlackFailure as failure:
            if failure.error not in message.gone:
                raise
            if not message.repost:
                record(**{message.digest: sent[message.digest]})  # it stays as it was posted
                return DONE
            # Someone deleted it: post a fresh one and keep going.
            record(**{message.ts: None, message.digest: None})
            post()
            return DONE
        (record_edit or record)(**sent)
        return DONE
    except SlackError as error:
        outcome = from_error(error, Doing.POST)
        if outcome.final:
            record(**{message.error: outcome.error})
            return DONE
        return outcome


def _post(
    slack: SlackGateway,
    message: Message,
    view: View,
    channel: str,
    record: Record,
    flush: Flush,
    holder: str | None,
    thread_ts: str | None,
    sent: Mapping[str, Any],
) -> None:
    flush()
    ts = slack.post_message(channel, view, thread_ts=thread_ts, holder=holder)
    record(**{message.ts: ts}, **sent)
