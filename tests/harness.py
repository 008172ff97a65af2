"""Runs the real bot as a separate process (`polytomic-bot serve|worker`) against the fakes,
and talks to it the way Slack does: signed HTTP requests to /slack/events."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.polytomic import FakePolytomic
from tests.fakes.signing import block_actions_body, post_signed, slash_command_body
from tests.fakes.slack import FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
POLYTOMIC_KEY = "test-polytomic-key"
ROOT = Path(__file__).resolve().parents[1]
EXECUTABLE = Path(sys.executable).with_name("polytomic-bot")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POLYTOMIC_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        POLYTOMIC_API_KEY=POLYTOMIC_KEY,
        POLYTOMIC_DEPLOYMENT_URL=polytomic.url,
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
        """SIGKILL the whole process group: gunicorn's master and its worker die at once."""
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


class SlackUser:
    """A person in the fake workspace who types commands and clicks buttons."""

    def __init__(self, bot: BotProcess, slack: FakeSlack, user_id: str, channel_id: str = "CGENERAL") -> None:
        self.bot = bot
        self.slack = slack
        self.user_id = user_id
        self.channel_id = channel_id

    def command(self, text: str, **kwargs: Any) -> tuple[httpx.Response, str]:
        """Run /polytomic <text>; returns the HTTP answer (the ack) and the response_url used."""
        response_url = self.slack.response_url(f"{self.user_id}:{text[:20]}")
        body = slash_command_body(
            text=text, user_id=self.user_id, channel_id=self.channel_id, response_url=response_url, **kwargs
        )
        return self.bot.post(body), response_url

    def answers(self, response_url: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait for `count` answers posted to a response_url and return them all."""
        wait_until(lambda: len(self.slack.responses(response_url)) >= count, timeout, what="an answer")
        return self.slack.responses(response_url)

    def click(
        self, action_id: str, value: str, *, message_ts: str | None = None
    ) -> tuple[httpx.Response, str]:
        response_url = self.slack.response_url(f"{self.user_id}:click")
        body = block_actions_body(
            user_id=self.user_id,
            action_id=action_id,
            value=value,
            channel_id=self.channel_id,
            response_url=response_url,
            message_ts=message_ts,
        )
        return self.bot.post(body), response_url


def button(answer: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in answer.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {json.dumps(answer)[:500]}")


def all_text(payload: dict[str, Any]) -> str:
    """Every string in a message (text and blocks), for checks on what a person would see."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({"text": payload.get("text"), "blocks": payload.get("blocks")})
    return "\n".join(out)


def temp_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="polytomic-bot-test-"))
