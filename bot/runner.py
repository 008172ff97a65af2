"""Process entry points: the HTTP app under gunicorn, Socket Mode, and the tracker alone.

Each one runs the tracker in its own threads (never on Bolt's listener pool) and drains on
SIGTERM within the platform's grace period. The CLI upgrades the schema and, on SQLite, takes
the file's lock (bot.db.sqlite_lock) before it calls one of them.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings
from bot.services import Services, build_services

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


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn running the WSGI app that `build` makes inside the worker, after the fork
    (threads started before a fork don't survive it)."""

    def __init__(self, options: dict[str, Any], build: Callable[[], Any]) -> None:
        self.options = options
        self.build = build
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24: one socket per user
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return self.build()


class _Gunicorn(GunicornApp):
    """The bot under gunicorn: the worker's hooks start and drain its services."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.services: Services | None = None
        super().__init__(options, self._build)

    def _build(self) -> Any:
        from bot.app import create_bolt_app
        from bot.web import create_wsgi_app

        self.services = build_services(self.settings, with_tracker=True)
        return create_wsgi_app(create_bolt_app(self.services), self.services)


def _post_worker_init(worker: Any) -> None:
    services = worker.app.services
    if services is not None:
        services.start()


def _worker_exit(_server: Any, worker: Any) -> None:
    services = worker.app.services
    if services is not None:
        services.stop(DRAIN_SECONDS)


def gunicorn_options(port: int, log_level: str) -> dict[str, Any]:
    """How `serve` runs under gunicorn (bench/ serves its bare-Bolt floor with the same)."""
    return {
        "bind": f"0.0.0.0:{port}",
        "workers": 1,  # one process per `serve`; run more `serve` processes on PostgreSQL to scale
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 30,
        "graceful_timeout": int(DRAIN_SECONDS),
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level.lower(),
        "proc_name": "polytomic-bot",
    }


def serve(settings: Settings) -> None:
    """The HTTP app on $PORT under gunicorn, with the tracker in the same process."""
    options = gunicorn_options(settings.port, settings.log_level)
    options.update(post_worker_init=_post_worker_init, worker_exit=_worker_exit)
    _Gunicorn(settings, options).run()


def socket_mode(settings: Settings) -> None:
    """Socket Mode (no public URL) with the tracker in the same process."""
    from slack_sdk.errors import SlackApiError

    from bot.app import create_bolt_app
    from bot.socket_mode import make_handler

    assert settings.slack_app_token is not None
    stop = _stop_on_signal()
    services = build_services(settings, with_tracker=True)
    handler = make_handler(
        create_bolt_app(services, socket_mode=True), settings.slack_app_token, services.slack.client
    )
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
