"""One pass over one claimed alert or digest: keep its Slack messages in line with the row.

An alert's pass (`alert_pass`) posts the alert (or leaves it to the channel's live flood digest,
opening one when FLOOD_SYNCS syncs failed within FLOOD_WINDOW), edits it when what it shows
changed, replies in its thread once per further failure and once for the recovery, and is
finished only when all of that is delivered. Every effect is recorded on the row as it lands
(bot.tracker.posts, writing under the lease), so the next holder repeats none; the one window
is between Slack accepting a post and the row recording it, as for operations. A channel that
went away (archived, not found, the bot removed) disables its subscriptions.

Returns the seconds after which the row wants another look, or None when it is finished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.alerts.rules import DIGEST_QUIET, FLOOD_WINDOW, flood
from bot.db import subscriptions
from bot.db.alerts import AlertStore
from bot.db.models import Alert, AlertDigest, AlertFailure, Operation
from bot.db.operations import OperationStore
from bot.polytomic import PolytomicClient, PolytomicError
from bot.slack import SlackError, SlackGateway
from bot.tracker import posts
from bot.tracker.outcome import DONE, Doing, Outcome, from_error
from bot.views.alerts import alert_message, digest_message, failure_reply, notice_message, recovery_reply

log = logging.getLogger("bot.alerts")

GONE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"})
_EDIT_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
ALERT = posts.Message(ts="ts", error="post_error", digest="view_digest", gone=_EDIT_GONE)
RECOVERY = posts.Message(ts="recovery_ts", error="recovery_error")
DIGEST = posts.Message(ts="ts", error="post_error", digest="view_digest", gone=_EDIT_GONE)
NO_REPLY = "-"  # reply_ts of a failure that needs no reply (the first, muted, told by a digest)


@dataclass
class Context:
    store: AlertStore
    operations: OperationStore
    slack: SlackGateway
    polytomic: PolytomicClient
    owner: str
    sync_url: str | None
    now: datetime


def _record(ctx: Context, row: Alert | AlertDigest) -> posts.Record:
    def record(**fields: Any) -> None:
        ctx.store.save(row, ctx.owner, fields)

    return record


def _gone(ctx: Context, channel_id: str, error: str | None) -> None:
    if error in GONE:
        disabled = subscriptions.channel_gone(ctx.store.db, channel_id, error or "gone", at=ctx.now)
        log.warning(
            "alerts: channel gone, %d subscriptions disabled", disabled, extra={"channel": channel_id}
        )


def alert_pass(ctx: Context, alert: Alert) -> float | None:
    holder = f"alert-{alert.id}"
    if alert.post_error is not None:
        return None  # the channel refused for good: nothing more can be shown there
    mute = subscriptions.muted_until(ctx.store.db, alert.channel_id, alert.sync_id)
    muted = mute is not None and mute > ctx.now
    restart = _restart(ctx, alert)
    if alert.kind == "notice":
        view = notice_message(alert, sync_url=ctx.sync_url)
        outcome = posts.keep(
            ctx.slack, alert, ALERT, view, channel=alert.channel_id, record=_record(ctx, alert), holder=holder
        )
        _gone(ctx, alert.channel_id, alert.post_error)
        return _wants(outcome)
    if alert.ts is None:
        if _held_by_digest(ctx, alert):
            return None
        if muted:
            return None  # a new failure after the mute posts it
    view = alert_message(alert, ctx.now, sync_url=ctx.sync_url, muted_until=mute, restart=restart)
    # The failures the first post shows (its count, the last error) need no reply of their own.
    shown_by_post = alert.failures if alert.ts is None else 0
    outcome = posts.keep(
        ctx.slack, alert, ALERT, view, channel=alert.channel_id, record=_record(ctx, alert), holder=holder
    )
    _gone(ctx, alert.channel_id, alert.post_error)
    if not outcome.final or alert.ts is None:
        return _wants(outcome)
    for failure in ctx.store.failures(alert.id):
        if failure.reply_ts is not None or failure.reply_error is not None:
            continue
        if muted or failure.seq <= max(alert.covered_failures, shown_by_post):
            ctx.store.save_reply(alert, ctx.owner, failure.id, reply_ts=NO_REPLY)
            continue
        outcome = _reply(ctx, alert, failure, holder)
        if not outcome.final:
            return _wants(outcome)
    if alert.state == "recovered" and alert.recovery_ts is None and alert.recovery_error is None:
        if muted:
            ctx.store.save(alert, ctx.owner, {"recovery_ts": NO_REPLY})
        else:
            outcome = posts.keep(
                ctx.slack,
                alert,
                RECOVERY,
                recovery_reply(alert),
                channel=alert.channel_id,
                record=_record(ctx, alert),
                holder=holder,
                thread_ts=alert.ts,
            )
            _gone(ctx, alert.channel_id, alert.recovery_error)
            if not outcome.final:
                return _wants(outcome)
    if restart is not None and restart.finished_at is None:
        return 5.0  # the restart's run is going: show its state (and Cancel) as it changes
    if muted and mute is not None and alert.state == "open":
        return max(1.0, (mute - ctx.now).total_seconds())  # the note "muted until" comes off
    return None


def _restart(ctx: Context, alert: Alert) -> Operation | None:
    if alert.restart_op_id is None:
        return None
    return ctx.operations.get(alert.restart_op_id)


def _held_by_digest(ctx: Context, alert: Alert) -> bool:
    """A streak not posted yet is told by the channel's live digest (opened now when this is a
    flood); True when it is, so the alert itself posts nothing."""
    if alert.digest_id is not None:
        if alert.failures <= alert.covered_failures and alert.state == "open":
            return True  # told already; a later failure makes it due again
        digest = ctx.store.live_digest(alert.channel_id)
        if digest is None or digest.id != alert.digest_id:
            return alert.failures <= alert.covered_failures  # the digest closed: later news posts
        ctx.store.join_digest(alert, ctx.owner, digest.id)
        return True
    live = ctx.store.live_digest(alert.channel_id)
    if live is None:
        since = ctx.now - timedelta(seconds=FLOOD_WINDOW)
        if not flood(ctx.store.recent_failing(alert.channel_id, since)):
            return False
        digest_id = ctx.store.open_digest(alert.channel_id, since)
    else:
        digest_id = live.id
    ctx.store.join_digest(alert, ctx.owner, digest_id)
    return True


def _reply(ctx: Context, alert: Alert, failure: AlertFailure, holder: str) -> Outcome:
    try:
        ts = ctx.slack.post_message(
            alert.channel_id, failure_reply(alert, failure), thread_ts=alert.ts, holder=holder
        )
    except SlackError as error:
        outcome = from_error(error, Doing.POST)
        if outcome.final:
            ctx.store.save_reply(alert, ctx.owner, failure.id, reply_error=(outcome.error or "")[:500])
            _gone(ctx, alert.channel_id, outcome.error)
            return DONE
        return outcome
    ctx.store.save_reply(alert, ctx.owner, failure.id, reply_ts=ts)
    return DONE


def _wants(outcome: Outcome) -> float | None:
    if outcome.final:
        return None
    return outcome.delay if outcome.delay is not None else 5.0


def digest_pass(ctx: Context, digest: AlertDigest) -> float | None:
    members = ctx.store.digest_members(digest.id)
    if digest.closed_at is None and (ctx.now - digest.last_at).total_seconds() >= DIGEST_QUIET:
        ctx.store.save(digest, ctx.owner, {"closed_at": ctx.now})
    view = digest_message(digest, members, _target_name(ctx, members))
    outcome = posts.keep(
        ctx.slack,
        digest,
        DIGEST,
        view,
        channel=digest.channel_id,
        record=_record(ctx, digest),
        holder=f"digest-{digest.id}",
    )
    _gone(ctx, digest.channel_id, digest.post_error)
    if not outcome.final:
        return _wants(outcome)
    if digest.closed_at is None and digest.post_error is None:
        return max(1.0, DIGEST_QUIET - (ctx.now - digest.last_at).total_seconds())
    return None


def _target_name(ctx: Context, members: list[Alert]) -> str | None:
    """The connection every failing sync writes to, when they share one ("14 syncs to Salesforce")."""
    targets = {m.target_connection_id for m in members}
    if len(targets) != 1 or None in targets:
        return None
    (target,) = targets
    assert target is not None
    try:
        return ctx.polytomic.get_connection(target).name or None
    except PolytomicError:
        return None
