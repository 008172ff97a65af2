"""The WSGI app: /slack/events (through bot/edge.py to Bolt), /polytomic/webhook (bot/feed/
receiver.py, only when POLYTOMIC_WEBHOOK_SECRET is set: 404 otherwise), /healthz, /readyz and
/metrics.

/readyz and /metrics are unauthenticated, so a flood of them must not cost the acks: what they
ask of the database is asked at most once a second (`Probe`), however many ask, and the other
callers get the last answer at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from slack_bolt import App
from sqlalchemy.exc import SQLAlchemyError

from bot.db import health
from bot.edge import SlackEdge
from bot.feed import WebhookReceiver
from bot.services import Services
from bot.serving import Limits

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

PROBE_SECONDS = 1.0  # how long an answer about the database stays good

T = TypeVar("T")


def _plain(start_response: StartResponse, status: str, body: bytes, ctype: str = "text/plain") -> list[bytes]:
    start_response(status, [("Content-Type", f"{ctype}; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def readiness(services: Services) -> tuple[bool, str]:
    """Ready when the database answers, its schema is at the newest migration and a write
    reaches it (a full disk or a read-only database is not ready)."""
    try:
        if not health.schema_is_current(services.db.engine):
            return False, "database schema is behind: run `polytomic-bot migrate`"
    except SQLAlchemyError as error:
        return False, f"database unreachable: {health.describe(error)}"
    problem = health.write_problem(services.db)
    if problem is not None:
        return False, f"database cannot be written: {problem}"
    return True, "ready"


def refresh_in_flight(services: Services) -> None:
    """The in-flight gauge, from the table (a failed read leaves the last value)."""
    try:
        in_flight = services.operations.count_unfinished()
    except SQLAlchemyError:
        return
    services.metrics.in_flight.set(in_flight)


class Probe(Generic[T]):
    """`check()`'s answer, asked again at most every `seconds`: while one caller asks, the others
    get the previous answer instead of waiting (the first caller of all waits for it)."""

    def __init__(self, check: Callable[[], T], seconds: float = PROBE_SECONDS) -> None:
        self._check = check
        self._seconds = seconds
        self._lock = threading.Lock()
        self._last: tuple[T, float] | None = None  # the answer, and when it was asked

    def __call__(self) -> T:
        last = self._last
        if last is not None and time.monotonic() - last[1] < self._seconds:
            return last[0]
        if not self._lock.acquire(blocking=last is None):
            assert last is not None
            return last[0]  # someone is asking right now
        try:
            answer = self._check()
            self._last = (answer, time.monotonic())
            return answer
        finally:
            self._lock.release()


def create_wsgi_app(bolt_app: App, services: Services) -> WSGIApp:
    secret = services.settings.slack_signing_secret
    if secret is None:
        raise ValueError("the HTTP app needs SLACK_SIGNING_SECRET")  # config.py requires it for serve
    slack_events = SlackEdge(
        bolt_app,
        secret,
        max_body_bytes=Limits.max_body_bytes,
        on_refused=services.metrics.refused,
        while_handling=services.ack_gate.handling,  # only verified requests make answers wait
    )
    webhook = None
    if services.settings.polytomic_webhook_secret and services.feed is not None:
        webhook = WebhookReceiver(
            services.feed,
            services.settings.polytomic_webhook_secret,
            services.metrics,
            max_body_bytes=Limits.max_body_bytes,
            on_refused=services.metrics.refused,
        )
    ready = Probe(lambda: readiness(services))
    gauges = Probe(lambda: refresh_in_flight(services))

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            return slack_events(environ, start_response)
        if path == "/polytomic/webhook" and webhook is not None:
            return webhook(environ, start_response)
        if path not in ("/healthz", "/readyz", "/metrics"):
            return _plain(start_response, "404 Not Found", b"not found\n")
        if method != "GET":
            start_response("405 Method Not Allowed", [("Allow", "GET"), ("Content-Type", "text/plain")])
            return [b"method not allowed\n"]
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            is_ready, why = ready()
            return _plain(
                start_response, "200 OK" if is_ready else "503 Service Unavailable", why.encode() + b"\n"
            )
        gauges()
        return _plain(start_response, "200 OK", services.metrics.render(), "text/plain; version=0.0.4")

    return app
