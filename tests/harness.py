"""What the tests share: the real bot as a process (from `bot.fakes.process`, re-exported here),
its command line run in this process (`run_cli`),
a person in the fake workspace (`SlackUser`, for a process or for the in-process bot of
tests/scenario/inprocess.py), and the helpers of the scenario and e2e tiers that read what Slack
shows and what the database holds, and check that a faulted story ended once. Test modules
import helpers from here (and the scenario tier from its `inprocess`), never from one another
(tests/integration/test_imports.py checks that)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bot.clock import ManualClock
from bot.config import Mode, load_settings
from bot.db import migrate
from bot.db.stops import Picked, StopStore
from bot.fakes.polytomic import FakeExecution, FakePolytomic, FakeSync, RecordedRequest
from bot.fakes.process import (
    BOT_TOKEN,
    EXECUTABLE,
    POLYTOMIC_KEY,
    SIGNING_SECRET,
    BotProcess,
    base_env,
    free_port,
    wait_until,
)
from bot.fakes.signing import block_actions_body, slash_command_body
from bot.fakes.slack import FakeSlack, Message
from bot.services import Services, build_services
from bot.tracker import Tracker

__all__ = [
    "BOT_TOKEN",
    "CANCELED",
    "CHANNEL",
    "EXECUTABLE",
    "INCIDENTS",
    "POLYTOMIC_KEY",
    "ROOT",
    "SIGNING_SECRET",
    "BotProcess",
    "Rows",
    "SlackUser",
    "TrackerWorld",
    "all_text",
    "answer_to",
    "assert_canceled_once",
    "base_env",
    "button",
    "cli_grant",
    "confirm",
    "db_rows",
    "exec_path",
    "final_text",
    "free_port",
    "incident_thread",
    "polls",
    "postgres_rows",
    "query_db",
    "run_cli",
    "sqlite_rows",
    "status_messages",
    "temp_workdir",
    "the_status_message",
    "tracker_world",
    "wait_until",
]

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "CGENERAL"
INCIDENTS = "CINCIDENT"
CANCELED = "*canceled* after"


class SlackUser:
    """A person in the fake workspace who types commands and clicks buttons, to a bot
    process (`BotProcess`) or to the bot in this process (tests/scenario/inprocess.py)."""

    def __init__(self, bot: Any, slack: FakeSlack, user_id: str, channel_id: str = "CGENERAL") -> None:
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
        """Wait for `count` answers posted to a response_url and return them all (an in-process
        bot waits its own way: it runs its tracker while it waits)."""
        wait = getattr(self.bot, "wait_until", wait_until)
        wait(lambda: len(self.slack.responses(response_url)) >= count, timeout, what="an answer")
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


# ---- e2e: what Slack shows, what the database holds ----------------------------------------


def status_messages(slack: Any, channel: str = CHANNEL) -> list[Any]:
    return [m for m in slack.messages_in(channel) if not m.is_reply]


def final_text(slack: Any, phrase: str, channel: str = CHANNEL, timeout: float = 15.0) -> str:
    def done() -> str | None:
        for message in status_messages(slack, channel):
            text = all_text(message.latest)
            if phrase in text:
                return text
        return None

    return str(wait_until(done, timeout, what=f"a status message saying {phrase!r}"))


def db_rows(tmp_path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{tmp_path / 'bot.db'}?mode=ro", uri=True) as conn:
        return conn.execute(query).fetchall()


def query_db(database_url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Query the bot's database from outside: SQLite read-only, PostgreSQL through SQLAlchemy."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, params or {}).fetchall()
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params or {})]
    finally:
        engine.dispose()


def confirm(user: SlackUser, sync_ref: str) -> tuple[dict[str, Any], str]:
    """Run /polytomic cancel, check the prompt, click Cancel sync; returns (prompt, click url)."""
    ack, url = user.command(f"cancel {sync_ref}")
    assert ack.status_code == 200
    prompt = user.answers(url)[0]
    click, click_url = user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    assert click.status_code == 200
    return prompt, click_url


def answer_to(user: SlackUser, text: str) -> str:
    ack, url = user.command(text)
    assert ack.status_code == 200
    return all_text(user.answers(url)[0])


@contextlib.contextmanager
def _as_a_process(env: dict[str, str], cwd: Path) -> Iterator[None]:
    """This process as the console script's would be: `env` as its whole environment, `cwd` as
    its directory; the root logger (which `setup_logging` replaces) is put back afterwards."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def run_cli(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`polytomic-bot ARGS` as its console script runs it (`sys.exit(bot.cli.main())`), but in
    this process: a process per command cost 1.4 s of CPU in imports alone. Returns its exit
    status and what it wrote to stdout and stderr (its JSON log lines included); an exception
    that escapes `main` is a traceback on stderr and status 1, as in a process. It is another
    process than a running bot's, so the SQLite lock (an flock) refuses it as it would the
    script. Where the process itself is what a test checks, the test runs the script."""
    from bot import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    with _as_a_process(env, cwd), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except Exception:  # shown as the interpreter would show it
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["polytomic-bot", *args], code, stdout.getvalue(), stderr.getvalue())


def cli_grant(database_url: str, subject: str, action: str, scope: str) -> None:
    """`polytomic-bot grant ...` against the bot's database, as an operator bootstraps it before
    the bot runs (on SQLite the CLI is refused while a bot holds the file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POLYTOMIC_"))}
    env["DATABASE_URL"] = database_url
    done = run_cli(["grant", subject, action, scope], env, Path.cwd())
    assert done.returncode == 0, done.stderr
    rows = query_db(
        database_url,
        "SELECT subject_id, action, scope FROM grants WHERE subject_id = :s",
        {"s": subject},
    )
    assert (subject, action, scope) in rows


# ---- faults: the story ended well, and once (tests/scenario and tests/e2e test_faults) --------


Rows = Callable[[str], list[tuple[Any, ...]]]


def sqlite_rows(tmp_path: Path) -> Rows:
    def rows(query: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{tmp_path / 'bot.db'}?mode=ro", uri=True) as conn:
            return conn.execute(query).fetchall()

    return rows


def postgres_rows(url: str) -> Rows:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def rows(query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return list(conn.execute(query).fetchall())

    return rows


def the_status_message(slack: FakeSlack) -> Message:
    messages = status_messages(slack)
    assert len(messages) == 1, [all_text(m.latest) for m in messages]
    message: Message = messages[0]
    return message


def incident_thread(slack: FakeSlack) -> tuple[Message, list[Message]]:
    """The one notice in the incident channel and its replies; nothing else was posted there."""
    every = slack.messages_in(INCIDENTS, include_deleted=True)
    notices = [m for m in every if not m.is_reply]
    assert len(notices) == 1, [all_text(m.latest) for m in every]
    replies = slack.thread(INCIDENTS, notices[0].ts, include_deleted=True)
    assert len(every) == 1 + len(replies), [all_text(m.latest) for m in every]
    return notices[0], replies


def assert_canceled_once(
    slack: FakeSlack,
    polytomic: FakePolytomic,
    sync: FakeSync,
    name: str,
    *,
    cancel_requests: int = 1,
    replies: int = 1,
) -> Message:
    """The whole story ended well and once: one status message (canceled), one incident notice
    with `replies` replies (the last one the outcome), `cancel_requests` cancel POSTs of which
    exactly one acted, all with the same Idempotency-Key."""
    message = the_status_message(slack)
    assert message.latest["text"].startswith(f"<@UADMIN> requested cancellation of {name}: canceled after ")
    assert CANCELED in all_text(message.latest)
    assert "canceling…" in all_text(message.versions[0]) or len(message.versions) == 1
    _notice, thread = incident_thread(slack)
    assert len(thread) == replies, [all_text(r.latest) for r in thread]
    assert "*canceled*" in all_text(thread[-1].latest)
    requests = polytomic.cancel_requests(sync.id)
    assert len(requests) == cancel_requests, [(r.status, r.fault) for r in requests]
    assert polytomic.effective_cancels(sync.id) == 1
    keys = {r.idempotency_key for r in requests}
    assert len(keys) == 1 and None not in keys, keys
    return message


def exec_path(sync: FakeSync, execution: FakeExecution) -> str:
    return rf"^/api/syncs/{sync.id}/executions/{execution.id}$"


def polls(polytomic: FakePolytomic, sync: FakeSync, execution: FakeExecution) -> list[RecordedRequest]:
    return polytomic.requests_to("GET", exec_path(sync, execution))


# ---- the tracker one pass at a time, without the Bolt app ---------------------------------


@dataclass
class TrackerWorld:
    """The bot's services, their tracker on a ManualClock, against the fakes: for integration
    tests that record a click as its listener would and run the tracker one pass at a time."""

    services: Services
    tracker: Tracker
    clock: ManualClock
    slack: FakeSlack
    polytomic: FakePolytomic
    database_url: str
    response_url: str | None = None  # one for every click; None: a fresh one per click
    incident_channel: str | None = None
    poll_timeout: float = 600.0

    def click(self, sync_id: str, execution_id: str) -> int:
        """What the confirm click's listener records."""
        return self.services.operations.create(
            kind="cancel",
            sync_id=sync_id,
            execution_id=execution_id,
            team_id="T1",
            requested_by="UADMIN",
            channel_id=CHANNEL,
            response_url=self.response_url or self.slack.response_url("confirm"),
            incident_channel=self.incident_channel,
            poll_timeout=self.poll_timeout,
        )


W = TypeVar("W", bound=TrackerWorld)


@contextlib.contextmanager
def tracker_world(
    world: type[W],
    slack: FakeSlack,
    polytomic: FakePolytomic,
    database_url: str,
    *,
    response_url: str | None = None,
    incident_channel: str | None = None,
    poll_timeout: float = 600.0,
    **env: str,
) -> Iterator[W]:
    """`world` (a TrackerWorld) over the services a worker builds: the tracker included, on a
    ManualClock, Slack unpaced, the database upgraded; stopped afterwards."""
    settings = load_settings(
        Mode.WORKER, base_env(slack, polytomic, database_url, SLACK_POST_INTERVAL="0", **env)
    )
    migrate.upgrade(database_url)
    clock = ManualClock()
    services = build_services(settings, with_tracker=True, responders=1, clock=clock)
    assert services.tracker is not None
    try:
        yield world(
            services,
            services.tracker,
            clock,
            slack,
            polytomic,
            database_url,
            response_url,
            incident_channel,
            poll_timeout,
        )
    finally:
        services.stop(1.0)


def confirmed_stop(
    stops: StopStore,
    count: int,
    *,
    with_pause: bool = False,
    requested_by: str = "U1",
    picked: Sequence[Picked] | None = None,
) -> int:
    """A confirmed stop of `count` running syncs (`sync-0`, ...) in `stops`, or of `picked`,
    as the prompt and its Confirm click save it: its id."""
    prompt_id = stops.save_prompt(
        verb="cancel",
        command="cancel all running",
        label="",
        requested_by=requested_by,
        team_id="T1",
        channel_id="C1",
        syncs=list(picked)
        if picked is not None
        else [Picked(f"sync-{i}", f"Sync {i}", f"exec-{i}") for i in range(count)],
    )
    stop_id = stops.confirm(
        prompt_id,
        with_pause=with_pause,
        clicker=requested_by,
        response_url=None,
        incident_channel=None,
        poll_timeout=600,
    )
    assert isinstance(stop_id, int)
    return stop_id
