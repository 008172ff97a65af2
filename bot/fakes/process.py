"""Runs the real bot as a separate process (`polytomic-bot serve|socket|worker`) against the
fakes, and talks to it the way Slack does: signed HTTP requests to /slack/events.

Shared by the tests (tests/harness.py re-exports it) and the benchmarks (bench/), which both
need the bot exactly as it runs in production: its console script, its environment, its server.
Like the rest of `bot.fakes` it imports none of the bot's own modules: it drives the bot from
outside, through the executable next to the running interpreter.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.signing import post_signed
from bot.fakes.slack import FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
POLYTOMIC_KEY = "test-polytomic-key"
EXECUTABLE = Path(sys.executable).with_name("polytomic-bot")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll `predicate` until it returns something truthy, and return that; an assertion or a
    missing key inside it counts as "not yet". Raises AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except (AssertionError, KeyError, IndexError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def base_env(
    slack: FakeSlack, polytomic: FakePolytomic, database_url: str, **overrides: str | None
) -> dict[str, str]:
    """The bot's environment pointed at the fakes: this process's environment without any
    SLACK_* or POLYTOMIC_* variable, the fakes' URLs and credentials, the events poller off
    (POLYTOMIC_EVENTS_INTERVAL=0: a test that counts Polytomic requests sees only its own; the
    tests of the poller turn it on), then `overrides` (None removes a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POLYTOMIC_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        POLYTOMIC_API_KEY=POLYTOMIC_KEY,
        POLYTOMIC_DEPLOYMENT_URL=polytomic.url,
        POLYTOMIC_EVENTS_INTERVAL="0",
        DATABASE_URL=database_url,
        POLL_INTERVAL="0.2",
        POLL_TIMEOUT="60",
        LEASE_TTL="5",
        LOG_LEVEL="INFO",
        BOT_ADMINS="UADMIN",
        PYTHONUNBUFFERED="1",
    )
    env.pop("INCIDENT_CHANNEL", None)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class BotProcess:
    """One real bot process; its output goes to a log file the test can read."""

    def __init__(self, command: str, env: dict[str, str], workdir: Path, port: int | None = None) -> None:
        self.command = command
        self.env = dict(env)
        self.port = port
        if port is not None:
            self.env["PORT"] = str(port)
        self.workdir = workdir
        self.log_path = workdir / f"bot-{command}-{port or 'w'}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> BotProcess:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(EXECUTABLE), self.command],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        if self.port is None:
            wait_until(lambda: "tracker started" in self.logs(), timeout, 0.05, "the worker to start")
            return

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"bot exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, 0.05, "the bot to answer /healthz")
        wait_until(lambda: "tracker started" in self.logs(), timeout, 0.05, "the tracker to start")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (the bot and anything it started) at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode)

    # ---- Slack, as the bot sees it ------------------------------------------------------

    def post(
        self, body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
    ) -> httpx.Response:
        return post_signed(self.url + "/slack/events", body, secret, timestamp=timestamp)
