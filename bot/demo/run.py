"""`polytomic-bot demo`: the fakes, the real bot and the page, started, printed and stopped.

Start-up, in order: a temporary directory; the fake Slack and the fake Polytomic on ephemeral
ports of 127.0.0.1, set up by world.py; the demo's settings (settings.py, never the environment);
the database upgraded and the on-call user's grant written, as `polytomic-bot grant` would; the
bot's services, Bolt app and WSGI app, built as `serve` builds them; then one HTTP server
(bot/serving.py, bound to 127.0.0.1) for both the bot (`/slack/events`, `/polytomic/webhook`, the
probes) and the page (everything else). Once it listens, the fake Polytomic's webhook points at
the bot, the tracker and the events poller start, and the terminal shows the URL and the users.

Ctrl-C (or SIGTERM) drains the server and the bot as `serve` does, stops the fakes and removes the
temporary directory.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot import commands, serving
from bot.app import create_bolt_app
from bot.config import ConfigError
from bot.db import grants as grant_store
from bot.db import migrate, sqlite_lock
from bot.db.engine import Database
from bot.demo import settings as demo
from bot.demo.page import DemoPage
from bot.demo.surface import Surfaces
from bot.demo.world import FAILING_SYNC, fail_now, make_fakes, populate_polytomic, populate_slack
from bot.logs import setup_logging
from bot.services import build_services
from bot.web import create_wsgi_app

log = logging.getLogger("bot.demo")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

BOT_PATHS = ("/slack/", "/polytomic/webhook", "/healthz", "/readyz", "/metrics")
SUBSCRIBE = "subscribe * failures"  # seeded for #data-team once the bot knows the command


@dataclass(frozen=True)
class DemoOptions:
    port: int = 3000
    database_url: str | None = None


def main(options: DemoOptions, out: IO[str] | None = None) -> int:
    """Run the demo until Ctrl-C; the exit status. The terminal's lines go to `out` (stdout)."""
    out = out or sys.stdout
    if not 0 <= options.port <= 65535:
        print("polytomic-bot demo: --port must be 0 to 65535 (0 picks a free port)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="polytomic-bot-demo-"))
    slack, polytomic = make_fakes()
    try:
        slack.start()
        polytomic.start()
        return _run(options, workdir, slack, polytomic, out)
    finally:
        polytomic.stop()
        slack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(options: DemoOptions, workdir: Path, slack: Any, polytomic: Any, out: IO[str]) -> int:
    keys = demo.Secrets.new()
    database_url = demo.database_url(workdir, options.database_url)
    try:
        settings = demo.demo_settings(
            slack_api_url=slack.api_url,
            polytomic_url=polytomic.url,
            database_url=database_url,
            port=options.port,
            keys=keys,
        )
    except ConfigError as error:
        shown = str(error).replace("DATABASE_URL", "--database-url", 1)
        print(f"polytomic-bot demo: {shown}", file=sys.stderr)
        return 2
    setup_logging(settings)
    populate_slack(slack)
    populate_polytomic(polytomic)
    try:
        lock = sqlite_lock.hold(settings.database_url)
    except sqlite_lock.AlreadyRunning as error:
        print(f"polytomic-bot demo: {error}: give the demo a database of its own", file=sys.stderr)
        return 3
    try:
        migrate.upgrade(settings.database_url)
        _grant_oncall(settings.database_url)
        return _serve(options, settings, keys, slack, polytomic, out)
    finally:
        if lock is not None:
            lock.close()


def _grant_oncall(database_url: str) -> None:
    """What `polytomic-bot grant UDEMOONCALL cancel '*'` does, before the bot starts."""
    db = Database(database_url)
    try:
        grant_store.change(
            db, "grant", commands.Subject("user", demo.ONCALL.id), "cancel", "*", actor="cli:demo"
        )
    finally:
        db.dispose()


def _serve(
    options: DemoOptions, settings: Any, keys: demo.Secrets, slack: Any, polytomic: Any, out: IO[str]
) -> int:
    services = build_services(settings, with_tracker=True)
    bolt_log = logging.getLogger("slack_bolt")
    level = bolt_log.level
    bolt_log.setLevel(logging.ERROR)  # Bolt's start-up notes on the token it does not use, not for a demo
    try:
        bolt = create_bolt_app(services)
    finally:
        bolt_log.setLevel(level)
    bot_app = create_wsgi_app(bolt, services)
    page = DemoPage(
        Surfaces(slack),
        signing_secret=keys.signing_secret,
        team_id=slack.team_id,
        fail_now=lambda: fail_now(polytomic),
    )

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(BOT_PATHS):
            return bot_app(environ, start_response)
        return page(environ, start_response)

    def listening(port: int) -> None:
        page.bot_url = f"http://127.0.0.1:{port}"
        polytomic.register_webhook(f"{page.bot_url}/polytomic/webhook", keys.webhook_secret)
        _banner(out, page.bot_url)

    def started() -> None:
        services.start()
        threading.Thread(target=_subscribe, args=(page,), name="demo-subscribe", daemon=True).start()

    try:
        serving.serve(
            app,
            options.port,
            host="127.0.0.1",
            on_listening=listening,
            on_start=started,
            on_drain=services.stop,
            on_refused=services.metrics.refused,
        )
    except serving.CannotListen as error:
        services.stop(2.0)
        print(f"polytomic-bot demo: {error} (try --port 0 for a free one)", file=sys.stderr)
        return 1
    print("polytomic-bot demo: stopped", file=out, flush=True)
    return 0


def _subscribe(page: DemoPage) -> None:
    """Subscribe #data-team to every sync's failures, as the admin typing it would, when this
    bot has the command (the alerts issue); otherwise nothing, rather than an error on screen."""
    if isinstance(commands.parse(SUBSCRIBE), commands.Invalid):
        return
    try:
        page.command({"user": demo.ADMIN.id, "channel": demo.CHANNEL, "text": SUBSCRIBE})
    except Exception:  # the demo runs on without it; say why in the log
        log.exception("could not subscribe the demo channel")


def _banner(out: IO[str], url: str) -> None:
    lines = [
        f"polytomic-bot demo: open {url}",
        "  a simulated Polytomic, the real bot and a page standing in for Slack, all on 127.0.0.1;",
        "  nothing is read from the environment, and nothing leaves this machine.",
        f"  channels: #{demo.CHANNEL_NAME} (type /polytomic … there), #{demo.INCIDENT_CHANNEL_NAME} "
        "(the incident channel)",
        "  demo users (pick one on the page):",
        *(f"    {user.name} ({user.id}): {user.role}" for user in demo.USERS),
        f'  try: /polytomic list running, then /polytomic cancel "Contacts to Salesforce"; '
        f"'{FAILING_SYNC}' fails every 3 minutes (or now: the button)",
        "  Ctrl-C stops it.",
    ]
    print("\n".join(lines), file=out, flush=True)
