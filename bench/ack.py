"""Ack latency under load: signed `/polytomic cancel <id>` commands with many in flight while
Polytomic is slow, against the floor (a bare Bolt app that only acks, served the same way)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Spread, fresh_database, send_load
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.process import (
    BOT_TOKEN,
    POLYTOMIC_KEY,
    SIGNING_SECRET,
    BotProcess,
    base_env,
    free_port,
    wait_until,
)
from bot.fakes.signing import slash_command_body
from bot.fakes.slack import FakeSlack

HERE = Path(__file__).resolve().parent
USER = "UONCALL"  # holds a grant on each benchmark sync, as an on-call engineer would


@dataclass(frozen=True)
class AckResult:
    commands: int
    concurrency: int
    polytomic_latency: float
    bot: Spread
    floor: Spread  # Bolt configured as the bot configures it
    floor_bolt_defaults: Spread  # Bolt's defaults (listeners on its executor)
    answers: Spread  # command sent → its confirmation prompt posted to the response_url
    failures: int  # acks that were not HTTP 200, bot and floor together
    rounds: int = 1  # each of bot and floors ran `commands` this many times; figures pool them


def _bodies(slack: FakeSlack, sync_ids: list[str], count: int) -> tuple[list[bytes], list[str]]:
    urls = [slack.response_url() for _ in range(count)]
    bodies = [
        slash_command_body(
            text=f"cancel {sync_ids[i % len(sync_ids)]}",
            user_id=USER,
            channel_id="CBENCH",
            response_url=urls[i],
        )
        for i in range(count)
    ]
    return bodies, urls


def _measure_floor(
    slack: FakeSlack,
    sync_ids: list[str],
    env: dict[str, str],
    workdir: Path,
    commands: int,
    concurrency: int,
    warmup: int,
    bolt_defaults: bool,
) -> tuple[list[float], list[int]]:
    port = free_port()
    floor = _floor(port, {**env, "SLACK_BOT_TOKEN": BOT_TOKEN}, workdir, bolt_defaults)
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        wait_until(lambda: _answers(url), timeout=30, interval=0.1, what="the floor to listen")
        if warmup:  # (each load is a process of its own: --quick has none)
            send_load(url, _bodies(slack, sync_ids, warmup)[0], SIGNING_SECRET, concurrency)
        latencies, statuses, _, _ = send_load(
            url, _bodies(slack, sync_ids, commands)[0], SIGNING_SECRET, concurrency
        )
        return latencies, statuses
    finally:
        floor.terminate()
        floor.wait(15)


def _floor(port: int, env: dict[str, str], workdir: Path, bolt_defaults: bool) -> subprocess.Popen[bytes]:
    log = (workdir / f"floor-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "floor.py"), str(port), *(["--bolt-defaults"] if bolt_defaults else [])],
        env={**env, "PYTHONPATH": str(HERE.parent)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def run(
    workdir: Path,
    database_url: str,
    *,
    commands: int = 500,
    concurrency: int = 25,
    polytomic_latency: float = 1.5,
    warmup: int = 50,
    rounds: int = 2,
) -> AckResult:
    with FakeSlack() as slack, FakePolytomic(api_key=POLYTOMIC_KEY) as polytomic:
        sync_ids = []
        for i in range(50):
            sync = polytomic.add_sync(name=f"Ack bench {i}")
            sync.start_execution(cancel_delay=None)
            sync_ids.append(sync.id)
        polytomic.set_latency(polytomic_latency)  # every call, every endpoint
        fresh_database(database_url, [(USER, "cancel", sync_id) for sync_id in sync_ids])
        env = base_env(slack, polytomic, database_url)
        failures = 0
        floors: dict[bool, list[float]] = {False: [], True: []}
        latencies: list[float] = []
        answers: list[float] = []
        bot = BotProcess("serve", env, workdir, free_port()).start()
        try:
            url = bot.url + "/slack/events"
            if warmup:
                warm, warm_urls = _bodies(slack, sync_ids, warmup)
                send_load(url, warm, SIGNING_SECRET, concurrency)
                _answer_times(slack, warm_urls, timeout=120)
            # Rounds of floor, floor, bot: the machine's noise falls on all three alike. Each
            # round waits for the bot's answers, so its backlog never overlaps a floor's run.
            for _ in range(rounds):
                for bolt_defaults in (False, True):
                    times, statuses = _measure_floor(
                        slack, sync_ids, env, workdir, commands, concurrency, warmup, bolt_defaults
                    )
                    floors[bolt_defaults] += times
                    failures += sum(1 for s in statuses if s != 200)
                bodies, urls = _bodies(slack, sync_ids, commands)
                times, statuses, _, sent_at = send_load(url, bodies, SIGNING_SECRET, concurrency)
                latencies += times
                failures += sum(1 for s in statuses if s != 200)
                answered = _answer_times(slack, urls, timeout=300)
                answers += [answered[i] - sent_at[i] for i in range(commands) if i in answered]
        finally:
            bot.stop()
    return AckResult(
        commands=commands,
        concurrency=concurrency,
        polytomic_latency=polytomic_latency,
        bot=Spread.of(latencies),
        floor=Spread.of(floors[False]),
        floor_bolt_defaults=Spread.of(floors[True]),
        answers=Spread.of(answers),
        failures=failures,
        rounds=rounds,
    )


def _answers(url: str) -> bool:
    try:
        httpx.post(url, content=b"", timeout=1)  # unsigned: a 401 says it is listening
        return True
    except httpx.HTTPError:
        return False


def _answer_times(slack: FakeSlack, urls: list[str], timeout: float) -> dict[int, float]:
    """When each command's first answer reached its response_url (wall clock), by index."""
    deadline = time.monotonic() + timeout
    while True:
        times: dict[int, float] = {}
        for index, url in enumerate(urls):
            answers = slack.responses(url)
            if answers:
                times[index] = float(answers[0]["time"])
        if len(times) >= len(urls) or time.monotonic() > deadline:
            return times
        time.sleep(0.5)
