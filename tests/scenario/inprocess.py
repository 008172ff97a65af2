"""The bot in this process, for the scenario tier: production's wiring without a process.

`InProcessBot` builds the services with `build_services` and the Bolt app with `create_bolt_app`,
as `polytomic-bot serve` does, and serves Slack's requests through the same WSGI app
(`create_wsgi_app`: the edge verifies the signature and parses the body, then `app.dispatch`),
called in this thread instead of by waitress on a socket. Slack and Polytomic are the fakes, real
HTTP servers on 127.0.0.1; the database is a real SQLite file (or PostgreSQL).

Nothing runs on its own: the tracker has no thread, and every wait here (`wait_until`,
`final_text`, `settle`) runs it one pass at a time (`Tracker.run_due`) in the calling thread,
after the answers in flight have been awaited (`Responder.wait_idle`). Time is a `SteppedClock`
that the tracker, the stores and the views read: it runs with real time, as the fakes do (their
runs end, and their Retry-After windows pass, on a real clock), and `InProcessBot.advance` moves
it on at once, so a progress refresh or an escalation is due without waiting for it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot import commands
from bot.app import create_bolt_app
from bot.clock import ManualClock
from bot.config import Mode, load_settings
from bot.db import grants as grant_store
from bot.db import migrate
from bot.db.engine import Database
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.process import SIGNING_SECRET, base_env
from bot.fakes.signing import sign
from bot.fakes.slack import FakeSlack
from bot.logs import JsonFormatter, RedactSecrets
from bot.services import Services, build_services
from bot.tracker import Processed, Tracker
from bot.web import create_wsgi_app
from tests.harness import CHANNEL, all_text, query_db, status_messages

__all__ = ["InProcessBot", "cli_grant", "final_text", "settle", "wait_until"]

_RUNNING: list[InProcessBot] = []  # the bots a wait steps (one per test, or a few)
_LOCK = threading.Lock()


class SteppedClock(ManualClock):
    """Real time plus every `advance` so far: a pass that waits out a Retry-After inside the
    client (real seconds) sees them go by, and a test still skips ahead without waiting."""

    def __init__(self) -> None:
        super().__init__()
        self._started = time.monotonic()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=time.monotonic() - self._started)


class InProcessBot:
    """One bot, as `serve` wires it, in this process. `post` is Slack sending a request."""

    def __init__(
        self, slack: FakeSlack, polytomic: FakePolytomic, database_url: str, **env: str | None
    ) -> None:
        self.env = base_env(slack, polytomic, database_url, **env)
        self.settings = load_settings(Mode.SERVE, self.env)
        self.clock = SteppedClock()
        self.services: Services = build_services(self.settings, with_tracker=True, clock=self.clock)
        assert self.services.tracker is not None
        self.tracker: Tracker = self.services.tracker
        self.wsgi = create_wsgi_app(create_bolt_app(self.services), self.services)
        self.passes: list[Processed] = []  # what every tracker pass did, in order
        self._step_lock = threading.Lock()
        self._log = io.StringIO()
        self._handler = logging.StreamHandler(self._log)
        self._handler.setFormatter(JsonFormatter())
        self._handler.addFilter(
            RedactSecrets([self.settings.slack_bot_token, self.settings.slack_signing_secret])
        )
        logging.getLogger().addHandler(self._handler)
        with _LOCK:
            _RUNNING.append(self)

    # ---- Slack, as the bot sees it ------------------------------------------------------

    def post(
        self,
        body: bytes | str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST /slack/events, signed with `secret` (or with exactly `headers` when given)."""
        raw = body.encode() if isinstance(body, str) else body
        if headers is None:
            headers = sign(secret, raw, timestamp=timestamp)
            form = not raw.lstrip().startswith(b"{")
            headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
        return self.request("POST", "/slack/events", raw, headers)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path, b"", {})

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """One request through the production WSGI app, in this thread."""
        parts = urlsplit(path)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        started: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
            started["status"], started["headers"] = status, response_headers

        content = b"".join(self.wsgi(environ, start_response))
        return httpx.Response(
            int(started["status"].split()[0]),
            headers=started["headers"],
            content=content,
            request=httpx.Request(method, f"http://127.0.0.1{path}"),
        )

    # ---- time and the tracker --------------------------------------------------------------

    def step(self) -> list[Processed]:
        """The answers in flight finish; one pass over whatever is due by the clock; the
        answers that pass started finish."""
        with self._step_lock:
            self.services.responder.wait_idle()
            done = self.tracker.run_due()
            self.passes.extend(done)
            self.services.responder.wait_idle()
            return done

    def advance(self, seconds: float) -> list[Processed]:
        """Move the clock on by `seconds` at once, then step."""
        self.clock.advance(seconds)
        return self.step()

    def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, what: str = ""
    ) -> Any:
        return wait_until(predicate, timeout, interval, what)

    def logs(self) -> str:
        return self._log.getvalue()

    def stop(self) -> None:
        with _LOCK:
            if self in _RUNNING:
                _RUNNING.remove(self)
        logging.getLogger().removeHandler(self._handler)
        self.services.responder.wait_idle(5.0)
        self.services.stop(2.0)


def step_all() -> None:
    with _LOCK:
        bots = list(_RUNNING)
    for bot in bots:
        bot.step()


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> Any:
    """`bot.fakes.process.wait_until`, with every running in-process bot stepped (answers
    awaited, one tracker pass) before each look: what a process would have done on its own."""
    deadline = time.monotonic() + timeout
    while True:
        step_all()
        try:
            result = predicate()
        except (AssertionError, KeyError, IndexError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def settle(seconds: float, poll: float = 0.2) -> None:
    """What a short sleep gave a process: `seconds` of the clock, a pass every `poll`, answers
    awaited; without the wait. Before asserting that nothing more happened."""
    for _ in range(max(1, round(seconds / poll))):
        with _LOCK:
            bots = list(_RUNNING)
        for bot in bots:
            bot.advance(poll)


def final_text(slack: Any, phrase: str, channel: str = CHANNEL, timeout: float = 15.0) -> str:
    def done() -> str | None:
        for message in status_messages(slack, channel):
            text = all_text(message.latest)
            if phrase in text:
                return text
        return None

    return str(wait_until(done, timeout, what=f"a status message saying {phrase!r}"))


def migrated_copy(template: Path, target: Path) -> str:
    """A SQLite database at `target`, copied from an upgraded `template` (migrating costs more
    than a copy, once per test)."""
    target.write_bytes(template.read_bytes())
    return f"sqlite:///{target}"


def cli_grant(database_url: str, subject: str, action: str, scope: str) -> None:
    """What `polytomic-bot grant` does once it has parsed its arguments (`bot.cli`: the same
    parsers, the upgrade, the same store function, a `cli:` actor), without a process; the
    command itself is tested in tests/integration/test_cli.py and tests/e2e."""
    parsed_subject, parsed_scope = commands.parse_subject(subject), commands.parse_scope(scope)
    assert parsed_subject is not None and parsed_scope is not None
    migrate.upgrade(database_url)  # as the CLI does, for bootstrapping before any bot has run
    db = Database(database_url)
    try:
        grant_store.change(db, "grant", parsed_subject, action, parsed_scope, actor="cli:scenario")
    finally:
        db.dispose()
    rows = query_db(
        database_url,
        "SELECT subject_id, action, scope FROM grants WHERE subject_id = :s",
        {"s": subject},
    )
    assert (subject, action, scope) in rows
