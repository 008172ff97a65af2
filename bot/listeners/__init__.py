"""Bolt wiring, thin: parse, record what must survive, ack, and hand the rest to the responders."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, alert_actions, commands, home
from bot.services import Services


def register(app: App, services: Services) -> None:
    commands.register(app, services)
    actions.register(app, services)
    alert_actions.register(app, services)
    home.register(app, services)
