"""The /polytomic slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import commands as parsing
from bot import interactions, messages
from bot.interactions import Requester
from bot.services import Services

COMMAND = "/polytomic"


def handle_command(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    command = parsing.parse(str(body.get("text") or ""))
    services.metrics.command(type(command).__name__.lower())
    if isinstance(command, parsing.Invalid):
        view = messages.usage(command)
        ack(text=view.text, blocks=view.blocks)
        return
    if isinstance(command, parsing.Help):
        view = messages.help_view()
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
    if isinstance(command, parsing.Cancel):
        services.responder.submit(interactions.answer_cancel, services, req, command.sync)
    elif isinstance(command, parsing.Status):
        services.responder.submit(interactions.answer_status, services, req, command.sync)
    elif isinstance(command, parsing.GrantCmd | parsing.RevokeCmd):
        services.responder.submit(interactions.answer_grant_change, services, req, command)
    elif isinstance(command, parsing.ListGrants):
        services.responder.submit(interactions.answer_grants, services, req)


def register(app: App, services: Services) -> None:
    @app.command(COMMAND)
    def on_polytomic(ack: Ack, body: dict[str, Any]) -> None:
        handle_command(services, ack, body)
