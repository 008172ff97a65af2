"""The Bolt app: built from the services, with every listener registered."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import register
from bot.services import Services


def create_bolt_app(services: Services, *, socket_mode: bool = False) -> App:
    settings = services.settings
    app = App(
        token=settings.slack_bot_token,
        client=services.slack.client,
        # HTTP requests are verified by Bolt against the signing secret (v0 HMAC, 5-minute
        # window); Socket Mode has no signatures, the app token authenticates the socket.
        signing_secret=None if socket_mode else settings.slack_signing_secret,
        request_verification_enabled=not socket_mode,
        # No auth.test at start-up: a Slack hiccup must not stop the process; `check` tests it.
        token_verification_enabled=False,
    )
    register(app, services)
    return app
