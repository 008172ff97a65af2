"""Answers to /polytomic subscribe, unsubscribe and subscriptions (after the ack).

The target is resolved first (a sync by ID or name, `*`, or `to <connection>` through
GET /api/connections), then the clicker's `subscribe` permission on it is decided and audited
(a connection spans syncs, so it needs `subscribe` on `*`). Subscribing posts a short
"subscribed" message in the channel *before* the row is written: it is how the bot finds out
that it is not in a (private) channel, without asking Slack for more scopes; if Slack refuses
it, nothing is written. The row and its audit row commit together (bot.db.subscriptions).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.answers.deciding import Decider
from bot.answers.listing import Listings
from bot.answers.requester import Requester
from bot.answers.syncs import resolve
from bot.commands import AllSyncs, ConnectionRef, Subscribe, SyncRef, Unsubscribe
from bot.db import subscriptions
from bot.db.bounds import OutcomeUnknown
from bot.db.engine import Database
from bot.db.models import Subscription
from bot.polytomic import PolytomicClient, PolytomicError
from bot.polytomic.connections import ConnectionLookupError
from bot.slack import SlackError, SlackFailure, SlackGateway, Throttled
from bot.views import replies
from bot.views import subscriptions as views
from bot.views.blocks import View

POST_WAIT_LIMIT = 20.0  # seconds an answer may wait for its turn to post in the channel
GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


def scope_of(
    polytomic: PolytomicClient,
    listings: Listings,
    req: Requester,
    target: SyncRef | AllSyncs | ConnectionRef,
    verb: str,
    stored: Sequence[Subscription] = (),
) -> subscriptions.Scope | None:
    """What the command's target covers, resolved; None when the requester was answered.
    `stored`: the channel's subscriptions, which an unsubscribe may name a connection by
    (one deleted in Polytomic since is still unsubscribed from)."""
    if isinstance(target, AllSyncs):
        return subscriptions.Scope("all", "*", None)
    if isinstance(target, ConnectionRef):
        wanted = target.query.casefold()
        for sub in stored:
            if sub.scope_kind == "connection" and wanted in (
                sub.scope_id.casefold(),
                (sub.scope_name or "").casefold(),
            ):
                return subscriptions.Scope("connection", sub.scope_id, sub.scope_name)
        try:
            connection = polytomic.resolve_connection(target.query)
        except ConnectionLookupError as error:
            req.answer(views.connection_not_found(error))
            return None
        except PolytomicError as error:
            req.answer(replies.polytomic_failure(error, None))
            return None
        return subscriptions.Scope("connection", connection.id, connection.name)
    sync_id = resolve(listings, req, target, verb)
    if sync_id is None:
        return None
    name = target.name
    if name is None and verb == "subscribe":  # unsubscribing needs no name (the sync may be gone)
        try:
            name = polytomic.get_sync(sync_id).name
        except PolytomicError as error:
            req.answer(replies.polytomic_failure(error, sync_id))
            return None
    return subscriptions.Scope("sync", sync_id, name)


def answer_subscribe(
    polytomic: PolytomicClient,
    listings: Listings,
    decider: Decider,
    db: Database,
    slack: SlackGateway,
    req: Requester,
    cmd: Subscribe,
) -> None:
    scope = scope_of(polytomic, listings, req, cmd.target, "subscribe")
    if scope is None or not decider.allows(req, "subscribe", scope.permission_scope, "subscribe"):
        return
    existing = [
        s
        for s in subscriptions.in_channel(db, req.channel_id)
        if (s.scope_kind, s.scope_id) == (scope.kind, scope.id)
    ]
    if existing and existing[0].mode == cmd.mode and existing[0].disabled_at is None:
        req.answer(views.subscription_changed("unchanged", scope.kind, scope.id, scope.name, cmd.mode))
        return
    try:
        posted = post_waiting(
            slack,
            req.channel_id,
            views.subscribed_post(req.user_id, scope.kind, scope.id, scope.name, cmd.mode),
        )
    except SlackFailure as failure:
        if failure.error in GONE:
            req.answer(views.not_in_channel())
        elif failure.permanent:
            req.answer(views.channel_unusable(failure.error))
        else:
            req.answer(views.slack_unavailable())
        return
    except SlackError:
        req.answer(views.slack_unavailable())
        return
    try:
        changed = subscriptions.subscribe(
            db,
            channel_id=req.channel_id,
            team_id=req.team_id,
            scope=scope,
            mode=cmd.mode,
            actor=req.user_id,
            at=decider.clock.now(),
        )
    except SQLAlchemyError:
        _take_back(slack, req.channel_id, posted)  # it was not stored: the channel must not think so
        req.answer(replies.not_changed_database())
        return
    except OutcomeUnknown:
        req.answer(replies.recorded_in_doubt(check="/polytomic subscriptions"))
        return
    req.answer(views.subscription_changed(changed, scope.kind, scope.id, scope.name, cmd.mode))


def _take_back(slack: SlackGateway, channel: str, ts: str) -> None:
    # If Slack refuses, it stays; the requester is told that nothing was stored.
    with contextlib.suppress(SlackError):
        slack.call("chat.delete", channel=channel, ts=ts)


def post_waiting(slack: SlackGateway, channel: str, view: View) -> str:
    """Post, waiting out the channel's pace (fine after the ack, never on the ack path)."""
    waited = 0.0
    while True:
        try:
            return slack.post_message(channel, view)
        except Throttled as throttled:
            if waited + throttled.retry_after > POST_WAIT_LIMIT:
                raise
            time.sleep(throttled.retry_after)
            waited += throttled.retry_after


def answer_unsubscribe(
    polytomic: PolytomicClient,
    listings: Listings,
    decider: Decider,
    db: Database,
    req: Requester,
    cmd: Unsubscribe,
) -> None:
    stored = subscriptions.in_channel(db, req.channel_id)
    scope = scope_of(polytomic, listings, req, cmd.target, "unsubscribe", stored)
    if scope is None or not decider.allows(req, "subscribe", scope.permission_scope, "unsubscribe"):
        return
    try:
        changed = subscriptions.unsubscribe(
            db, channel_id=req.channel_id, scope=scope, actor=req.user_id, at=decider.clock.now()
        )
    except SQLAlchemyError:
        req.answer(replies.not_changed_database())
        return
    except OutcomeUnknown:
        req.answer(replies.recorded_in_doubt(check="/polytomic subscriptions"))
        return
    req.answer(views.subscription_changed(changed, scope.kind, scope.id, scope.name, None))


def answer_subscriptions(decider: Decider, db: Database, req: Requester) -> None:
    """This channel's subscriptions; every channel's for an admin of `*`."""
    try:
        admin = decider.may(req.user_id, "admin", None).allowed
    except SlackError:
        admin = False
    subs = subscriptions.every(db) if admin else subscriptions.in_channel(db, req.channel_id)
    req.answer(views.subscriptions_list(subs, every_channel=admin))
