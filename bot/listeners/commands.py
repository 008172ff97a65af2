"""The /polytomic slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import commands as parsing
from bot import interactions
from bot.interactions import Requester
from bot.services import Services
from bot.views import replies

COMMAND = "/polytomic"


def handle_command(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    command = parsing.parse(str(body.get("text") or ""))
    services.metrics.command(type(command).__name__.lower())
    if isinstance(command, parsing.Invalid):
        view = replies.usage(command)
        ack(text=view.text, blocks=view.blocks)
        return
    ack()
    # Everything below waits on Polytomic or Slack, so it runs after the ack, off Bolt's pool.
    req = Requester(
        user_id=str(body["user_id"]),
        channel_id=str(body["channel_id"]),
        response_url=str(body["response_url"]),
        team_id=body.get("team_id"),
    )
    submit = services.responder.submit
    match command:
        case parsing.Help():
            # Lists only what this person may run, which needs their groups: after the ack.
            submit(interactions.answer_help, services, req)
        case parsing.Cancel(sync=ref):
            submit(interactions.answer_cancel, services, req, ref)
        case parsing.Status(sync=ref):
            submit(interactions.answer_status, services, req, ref)
        case parsing.Why(sync=ref):
            submit(interactions.answer_why, services, req, ref)
        case parsing.Audit(sync=maybe_ref):
            submit(interactions.answer_audit, services, req, maybe_ref)
        case parsing.ListSyncs(running=running):
            submit(interactions.answer_list, services, req, running)
        case parsing.GrantCmd() | parsing.RevokeCmd():
            submit(interactions.answer_grant_change, services, req, command)
        case parsing.ListGrants():
            submit(interactions.answer_grants, services, req)


def register(app: App, services: Services) -> None:
    @app.command(COMMAND)
    def on_polytomic(ack: Ack, body: dict[str, Any]) -> None:
        handle_command(services, ack, body)
