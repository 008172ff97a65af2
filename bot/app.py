"""The Bolt app: built from the services, with every listener registered.

Bolt verifies nothing here: over HTTP, bot/edge.py has verified the signature (and parsed the
body) before Bolt sees a request; Socket Mode has no signatures (the app token authenticates
the socket). Bolt logs through the `slack_bolt` logger given to it, whose level bot/logs.py
sets: left to itself, Bolt copies the root logger's level onto each of its loggers when the app
is built, so at LOG_LEVEL=DEBUG it would log every Socket Mode envelope, response_url included.

Bolt also reads SLACK_BOT_TOKEN from the environment by itself, and, given the bot's own client
and `authorize`, warns at every start that it will ignore that token: true and intended (the
token reaches Bolt through `authorize`), so those two notices are left out of the bot's log
(`StartupNotices`), where an operator would read them as a misconfiguration.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped

from bot.listeners import register
from bot.services import Services


class StartupNotices(logging.Filter):
    """Drops Bolt's two "`token` will be unused/ignored" warnings, compared with the texts of
    Bolt's own message functions; every other record passes."""

    NOTICES = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.NOTICES


def create_bolt_app(services: Services) -> App:
    settings = services.settings

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None, **_: Any
    ) -> AuthorizeResult:
        # One workspace, one bot token from the settings. Bolt's default for a single token
        # calls auth.test on a process's first request, before the listener can ack: a slow or
        # rate-limited Slack API would then cost that ack its 3 seconds, or fail the request.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=settings.slack_bot_token
        )

    bolt_logger = logging.getLogger("slack_bolt")
    notices = StartupNotices()
    bolt_logger.addFilter(notices)  # only while the app is built: Bolt warns in its constructor
    try:
        app = App(
            client=services.slack.client,  # carries the bot token and SLACK_API_URL
            authorize=authorize,
            signing_secret="",  # unused: verification is the edge's (bot/edge.py)
            request_verification_enabled=False,
            logger=bolt_logger,
            # Listeners only parse, record and ack; their slow work goes to the responder pool.
            # So run them on the request's own thread: by default Bolt hands each one to its
            # small shared executor and polls every 10 ms for the ack, which adds to every ack
            # and queues them under load (bench/ measures both).
            process_before_response=True,
        )
    finally:
        bolt_logger.removeFilter(notices)
    register(app, services)
    return app
