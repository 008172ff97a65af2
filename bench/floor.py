"""The floor: a bare Bolt app whose /polytomic handler only acks, served exactly as
`polytomic-bot serve` is (same gunicorn options, same signature check, same authorize).

    .venv/bin/python bench/floor.py PORT [--bolt-defaults]   (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN set)

What the bot's ack costs above this is the bot's own; this much is the stack's. The floor runs
Bolt configured as the bot runs it (listeners on the request's thread); --bolt-defaults keeps
Bolt's default instead (listeners on its executor, the request thread polling for the ack).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult

from bot.runner import GunicornApp, gunicorn_options


def build(bolt_defaults: bool = False) -> Any:
    token = os.environ["SLACK_BOT_TOKEN"]

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None, **_: Any
    ) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        authorize=authorize,
        process_before_response=not bolt_defaults,
    )

    @app.command("/polytomic")
    def only_ack(ack: Ack) -> None:
        ack()

    return SlackRequestHandler(app, path="/slack/events")


def main() -> None:
    port = int(sys.argv[1])
    bolt_defaults = "--bolt-defaults" in sys.argv[2:]
    options = gunicorn_options(port, "warning")
    options["proc_name"] = "bolt-floor"
    GunicornApp(options, lambda: build(bolt_defaults)).run()


if __name__ == "__main__":
    main()
