"""The floor: a bare Bolt app whose /polytomic handler only acks, served exactly as
`polytomic-bot serve` is (bot/serving.py's waitress with the same limits, the same edge in front
of Bolt: bot/edge.py's size cap, signature check and parse, the same authorize).

    .venv/bin/python bench/floor.py PORT [--bolt-defaults]   (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN set)

What the bot's ack costs above this is the bot's own; this much is the stack's. The floor runs
Bolt configured as the bot runs it (listeners on the request's thread); --bolt-defaults keeps
Bolt's default instead (listeners on its executor, the request thread polling for the ack).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult

from bot import serving
from bot.edge import SlackEdge


def build(bolt_defaults: bool = False) -> SlackEdge:
    token = os.environ["SLACK_BOT_TOKEN"]

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None, **_: Any
    ) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

    app = App(
        signing_secret="",
        request_verification_enabled=False,  # the edge verifies, as in the bot (bot/app.py)
        authorize=authorize,
        process_before_response=not bolt_defaults,
        logger=logging.getLogger("slack_bolt"),
    )

    @app.command("/polytomic")
    def only_ack(ack: Ack) -> None:
        ack()

    return SlackEdge(app, os.environ["SLACK_SIGNING_SECRET"], max_body_bytes=serving.Limits.max_body_bytes)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    port = int(sys.argv[1])
    serving.serve(build("--bolt-defaults" in sys.argv[2:]), port)


if __name__ == "__main__":
    main()
