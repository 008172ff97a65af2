"""The WSGI app: /slack/events (Bolt), /healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy.exc import SQLAlchemyError

from bot.db import migrate
from bot.services import Services

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _plain(start_response: StartResponse, status: str, body: bytes, ctype: str = "text/plain") -> list[bytes]:
    start_response(status, [("Content-Type", f"{ctype}; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def readiness(services: Services) -> tuple[bool, str]:
    """Ready when the database answers and its schema is at the newest migration."""
    try:
        if not migrate.is_up_to_date(services.db.engine):
            return False, "database schema is behind: run `polytomic-bot migrate`"
        services.metrics.in_flight.set(services.operations.count_unfinished())
    except SQLAlchemyError as error:
        return False, f"database unreachable: {type(error).__name__}"
    return True, "ready"


def create_wsgi_app(bolt_app: App, services: Services) -> WSGIApp:
    slack_handler = SlackRequestHandler(bolt_app, path="/slack/events")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            # slack_sdk's verifier raises on a timestamp that is not a number (a 500); it is as
            # unsigned as a missing one.
            timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
            if method == "POST" and not (timestamp.isascii() and timestamp.isdigit()):
                body = b'{"error": "invalid request"}'  # what Bolt answers a bad signature
                start_response(
                    "401 Unauthorized",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                )
                return [body]
            with services.ack_gate.handling():
                return slack_handler(environ, start_response)
        if path not in ("/healthz", "/readyz", "/metrics"):
            return _plain(start_response, "404 Not Found", b"not found\n")
        if method != "GET":
            start_response("405 Method Not Allowed", [("Allow", "GET"), ("Content-Type", "text/plain")])
            return [b"method not allowed\n"]
        if path == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            ready, why = readiness(services)
            return _plain(
                start_response, "200 OK" if ready else "503 Service Unavailable", why.encode() + b"\n"
            )
        readiness(services)  # refreshes the in-flight gauge
        return _plain(start_response, "200 OK", services.metrics.render(), "text/plain; version=0.0.4")

    return app
