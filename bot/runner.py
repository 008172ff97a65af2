"""Process entry points: the HTTP app (bot/serving.py), Socket Mode, and the tracker alone.

Each one runs the tracker in its own threads (never on Bolt's listener pool) and drains on
SIGTERM within the platform's grace period. The CLI upgrades the schema and, on SQLite, takes
the file's lock (bot.db.sqlite_lock) before it calls one of them.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from bot import serving
from bot.config import Settings
from bot.services import build_services

log = logging.getLogger("bot.runner")

DRAIN_SECONDS = 7.0  # SIGTERM to exit must stay well under 10 s


class StartupError(Exception):
    """A one-line reason the process cannot start (never holding a secret)."""


def _stop_on_signal() -> threading.Event:
    """Installed before anything starts, so a SIGTERM during start-up drains too."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal received, draining", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _wait(stop: threading.Event) -> None:
    while not stop.wait(3600):
        pass


def serve(settings: Settings) -> None:
    """The HTTP app on $PORT (bot/serving.py: waitress, in this one process), with the tracker
    in the same process. Services are built before the socket listens; the tracker starts once
    it does, and stops after the HTTP side has drained."""
    from bot.app import create_bolt_app
    from bot.web import create_wsgi_app

    services = build_services(settings, with_tracker=True)
    app = create_wsgi_app(create_bolt_app(services), services)
    try:
        serving.serve(
            app,
            settings.port,
            on_start=services.start,
            on_drain=services.stop,
            on_refused=services.metrics.refused,
        )
    except serving.CannotListen:
        services.stop(DRAIN_SECONDS)
        raise


def socket_mode(settings: Settings) -> None:
    """Socket Mode (no public URL) with the tracker in the same process."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.app import create_bolt_app
    from bot.socket_mode import make_handler

    assert settings.slack_app_token is not None
    stop = _stop_on_signal()
    services = build_services(settings, with_tracker=True)
    handler = make_handler(create_bolt_app(services), settings.slack_app_token, services.slack.client)
    services.start()
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as error:
        services.stop(DRAIN_SECONDS)
        data = error.response.data if error.response is not None else None
        code = data.get("error", "error") if isinstance(data, dict) else "error"
        raise StartupError(
            f"Slack refused SLACK_APP_TOKEN ({code}): it should hold an app-level token "
            "with connections:write"
        ) from None
    except (SlackClientError, OSError) as error:
        services.stop(DRAIN_SECONDS)
        raise StartupError(
            f"could not open the Socket Mode connection ({type(error).__name__}): check that this "
            "host can reach Slack"
        ) from None
    log.info("socket mode connected")
    try:
        _wait(stop)
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        services.stop(DRAIN_SECONDS)


def worker(settings: Settings) -> None:
    """The tracker alone: for a separate worker process next to `serve` replicas."""
    stop = _stop_on_signal()
    services = build_services(settings, with_tracker=True, responders=1)
    services.start()
    log.info("worker started")
    try:
        _wait(stop)
    finally:
        services.stop(DRAIN_SECONDS)
