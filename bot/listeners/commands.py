"""The /polytomic slash command: parse, ack (a usage error is answered in the ack itself), and
hand the rest to the answers, on the responder pool."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import commands as parsing
from bot.answers import Requester, access, alert_clicks, stops, subscriptions, syncs
from bot.services import Services
from bot.views import replies

log = logging.getLogger("bot.listeners.commands")

COMMAND = "/polytomic"


def handle_command(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    text = str(body.get("text") or "")
    command = parsing.parse(text)
    services.metrics.command(type(command).__name__.lower())
    if isinstance(command, parsing.Invalid):
        view = replies.usage(command)
        ack(text=view.text, blocks=view.blocks)
        return
    ack()
    req = Requester.from_context(context, body)
    if req is None:
        log.warning("a command without a valid user, channel or response_url: not answered")
        return
    hand_off(services, req, command, text)


def hand_off(services: Services, req: Requester, command: parsing.Command, text: str = "") -> None:
    """Everything an answer does waits on Polytomic or Slack, so it runs after the ack, off
    Bolt's pool; each answer gets the pieces it uses. A sync picked from a list comes here too."""
    submit = services.responder.submit
    polytomic, listings, decider, db = services.polytomic, services.listings, services.decider, services.db
    match command:
        case parsing.Help():
            # Lists only what this person may run, which needs their groups: after the ack.
            submit(syncs.answer_help, services.authorizer, req)
        case parsing.Cancel(sync=ref):
            submit(syncs.answer_cancel, polytomic, listings, decider, req, ref)
        case parsing.Stop():
            # Many syncs at once (bot/answers/stops.py); the text is kept to ask again later.
            submit(stops.answer_stop, polytomic, listings, decider, services.stops, req, command, text[:1000])
        case parsing.Status(sync=ref):
            submit(syncs.answer_status, polytomic, listings, req, ref)
        case parsing.Why(sync=ref):
            submit(access.answer_why, polytomic, listings, decider, req, ref)
        case parsing.Audit(sync=maybe_ref):
            submit(access.answer_audit, listings, decider, db, req, maybe_ref)
        case parsing.ListSyncs(running=running):
            # On a lane of its own: a storm of listings never holds the threads a cancel needs.
            services.responder.submit_listing(
                syncs.answer_list, listings, decider, services.clock, req, running
            )
        case parsing.GrantCmd() | parsing.RevokeCmd():
            submit(access.answer_grant_change, decider, db, req, command)
        case parsing.ListGrants():
            submit(access.answer_grants, db, services.settings.bot_admins, req)
        case parsing.Subscribe():
            submit(
                subscriptions.answer_subscribe, polytomic, listings, decider, db, services.slack, req, command
            )
        case parsing.Unsubscribe():
            submit(subscriptions.answer_unsubscribe, polytomic, listings, decider, db, req, command)
        case parsing.ListSubscriptions():
            submit(subscriptions.answer_subscriptions, decider, db, req)
        case parsing.Start(sync=ref):
            submit(alert_clicks.answer_start, polytomic, listings, decider, req, ref)


def register(app: App, services: Services) -> None:
    @app.command(COMMAND)
    def on_polytomic(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        handle_command(services, ack, body, context)
