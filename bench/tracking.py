"""Tracking at scale: N cancellations confirmed at once, each run reaching `canceled` a fixed
time after its cancel; how late the bot's final status edit comes, what each cancellation
costs in Polytomic requests, Slack calls, CPU and memory. Slack's rate limits are off (in the
fake and in the bot's pacing): this measures the bot's own work. With `webhooks=True` the fake
Polytomic delivers its events, signed, to the bot's POST /polytomic/webhook, and the events
poller runs too (`events_interval`); without, both are off: polling only, as before. With
`rate`, the clicks arrive as a stream, that many a second, instead of all at once; with
`jitter`, the runs end up to that much later than `cancel_delay`, off the poll grid."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.common import (
    Spread,
    cpu_seconds,
    cpu_split,
    fresh_database,
    peak_rss_mib,
    rss_mib,
    send_load,
)
from bench.profile import Recorder
from bot.db.models import Operation
from bot.fakes.polytomic import FakeExecution, FakePolytomic
from bot.fakes.process import POLYTOMIC_KEY, SIGNING_SECRET, BotProcess, base_env, free_port
from bot.fakes.signing import block_actions_body
from bot.fakes.slack import FakeSlack

INCIDENT = "CINCIDENT"
WEBHOOK_SECRET = "bench-webhook-secret"
# What each Polytomic request is for, by its method and path.
PURPOSES = (
    ("GET", re.compile(r"^/api/syncs/[^/]+$"), "GET sync (its name)"),
    ("GET", re.compile(r"^/api/syncs/[^/]+/status$"), "GET sync status (verify the click)"),
    ("POST", re.compile(r"^/api/syncs/[^/]+/executions/[^/]+/cancel$"), "POST cancel"),
    ("GET", re.compile(r"^/api/syncs/[^/]+/executions/[^/]+$"), "GET execution (status poll)"),
    ("GET", re.compile(r"^/api/events$"), "GET events (the poller)"),
)
USER = "UONCALL"
_NAME = re.compile(r"Tracked-(\d{6})")


@dataclass(frozen=True)
class PerOperation:
    mean: float
    max: int

    @classmethod
    def of(cls, counts: list[int]) -> PerOperation:
        return cls(sum(counts) / len(counts), max(counts))


@dataclass(frozen=True)
class TrackingResult:
    operations: int
    finished: int
    poll_interval: float
    cancel_delay: float
    took: float  # first click sent → every operation finished
    click_ack: Spread
    lag: Spread  # run turned terminal → final chat.update of its status message
    polytomic: PerOperation
    polytomic_budget: int
    slack: PerOperation  # per cancellation: status message, its prompt, incident notices
    slack_budget: int
    slack_methods: dict[str, int] = field(default_factory=dict)
    wrong_outcomes: int = 0  # status messages that don't end on "canceled", or extra cancels
    cpu_seconds: float = 0.0
    system_share: float = 0.0  # of the bot's CPU since it started: the kernel's part
    clicks_cpu_seconds: float = 0.0  # the part of cpu_seconds spent while the clicks arrived
    fakes_cpu_seconds: float = 0.0  # the fake Slack and Polytomic (this process), same span
    idle_rss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    webhooks: bool = False
    events_interval: float = 0.0
    polytomic_total: float = 0.0  # every Polytomic request, the events API's too, per cancellation
    polytomic_purposes: dict[str, float] = field(default_factory=dict)  # per cancellation
    deliveries: int = 0  # webhook deliveries answered 2xx
    rate: float = 0.0  # confirm clicks sent a second (0: all at once, 25 in flight)
    jitter: float = 0.0  # each run ends cancel_delay plus up to this much after its cancel

    @property
    def cpu_ms_per_operation(self) -> float:
        return self.cpu_seconds / self.operations * 1000


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _finished(engine_url: str) -> int:
    engine = create_engine(engine_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count()).select_from(Operation).where(Operation.finished_at.is_not(None))
                )
                or 0
            )
    finally:
        engine.dispose()


def run(
    workdir: Path,
    database_url: str,
    *,
    operations: int = 1000,
    poll_interval: float = 1.0,
    cancel_delay: float = 5.0,
    concurrency: int = 25,
    profile: Path | None = None,
    webhooks: bool = False,
    events_interval: float = 30.0,
    rate: float = 0.0,
    jitter: float = 0.0,
) -> TrackingResult:
    # Whoever confirms holds a grant on every sync, as an on-call group's members would.
    fresh_database(database_url, [(USER, "cancel", "*")])
    # Polytomic's delivery concurrency is not documented; a few at once, as a queue's workers.
    with FakeSlack() as slack, FakePolytomic(api_key=POLYTOMIC_KEY, delivery_concurrency=4) as polytomic:
        runs: list[tuple[str, FakeExecution]] = []
        for i in range(operations):
            sync = polytomic.add_sync(name=f"Tracked-{i:06d}")
            # With `jitter`, run i ends up to that much later, spread evenly (the golden ratio's
            # multiples, modulo 1): not on the poll grid, as real runs end.
            delay = cancel_delay + jitter * ((i * 0.6180339887498949) % 1.0)
            runs.append((sync.id, sync.start_execution(cancel_delay=delay, rows_per_second=50)))
        env = base_env(
            slack,
            polytomic,
            database_url,
            POLL_INTERVAL=str(poll_interval),
            POLL_TIMEOUT="600",
            LEASE_TTL="30",
            INCIDENT_CHANNEL=INCIDENT,
            # The fake Slack enforces no limits here, and the bot's own pacing of posts is off
            # too: every cancellation posts twice in the one incident channel, which at Slack's
            # 1 a second would make this a measure of Slack's limit, not of the bot (that is
            # what bench/slack_limits.py measures).
            SLACK_POST_INTERVAL="0",
            POLYTOMIC_WEBHOOK_SECRET=WEBHOOK_SECRET if webhooks else None,
            POLYTOMIC_EVENTS_INTERVAL=str(events_interval) if webhooks else "0",
        )
        bot = BotProcess("serve", env, workdir, free_port()).start()
        if webhooks:
            polytomic.register_webhook(bot.url + "/polytomic/webhook", WEBHOOK_SECRET)
        assert bot.proc is not None
        pid = bot.proc.pid
        try:
            idle = rss_mib(pid)
            urls = [slack.response_url() for _ in range(operations)]
            clicks = [
                block_actions_body(
                    user_id=USER,
                    action_id="cancel_confirm",
                    value=json.dumps({"s": sync_id, "e": execution.id}, separators=(",", ":")),
                    channel_id=f"CT{i:06d}",
                    response_url=urls[i],
                )
                for i, (sync_id, execution) in enumerate(runs)
            ]
            polytomic.clear_requests()
            slack.clear_requests()
            recorder = None
            if profile is not None:  # the bot's one process (serve runs no workers)
                recorder = Recorder(pid, profile)
            cpu_before = cpu_seconds(pid)
            fakes_before = _own_cpu()
            started = time.monotonic()
            acks, statuses, _, _ = send_load(
                bot.url + "/slack/events", clicks, SIGNING_SECRET, concurrency, rate=rate
            )
            clicks_cpu = cpu_seconds(pid) - cpu_before
            if any(status != 200 for status in statuses):
                raise RuntimeError(f"{sum(s != 200 for s in statuses)} confirm clicks were not acked")
            deadline = started + 120 + operations * 0.2
            finished = 0
            while time.monotonic() < deadline:
                finished = _finished(database_url)
                if finished >= operations:
                    break
                time.sleep(0.5)
            took = time.monotonic() - started
            cpu = cpu_seconds(pid) - cpu_before
            user, system = cpu_split(pid)
            fakes_cpu = _own_cpu() - fakes_before
            peak = peak_rss_mib(pid)
            if recorder is not None:
                recorder.stop()
        finally:
            bot.stop()

        lags: list[float] = []
        wrong = 0
        slack_counts: Counter[str] = Counter()
        for i, (_sync_id, execution) in enumerate(runs):
            ended = execution.ended_at
            status = [m for m in slack.messages_in(f"CT{i:06d}") if not m.is_reply]
            if ended is None or len(status) != 1 or "canceled" not in (status[0].text or "").lower():
                wrong += 1
                continue
            lags.append(float(status[0].latest["time"]) - ended)
        purposes: Counter[str] = Counter()
        for request in polytomic.requests:
            path = request.path.split("?", 1)[0]
            purpose = next((name for m, rx, name in PURPOSES if m == request.method and rx.match(path)), None)
            purposes[purpose or f"{request.method} other"] += 1
        delivered = sum(1 for d in polytomic.deliveries if d.ok)
        per_sync: Counter[str] = Counter()
        for request in polytomic.requests:
            segments = request.segments
            if segments[:2] == ["api", "syncs"] and len(segments) > 2:
                per_sync[segments[2]] += 1
        wrong += sum(1 for sync_id, _ in runs if polytomic.effective_cancels(sync_id) != 1)
        per_op_slack = Counter[int]()
        url_index = {url.rsplit("/", 1)[-1]: i for i, url in enumerate(urls)}
        notice_index: dict[str, int] = {}  # incident notice ts → operation
        replies: list[str] = []
        for call in slack.requests:
            slack_counts[call.method] += 1
            channel = str(call.params.get("channel") or "")
            if call.method == "response_url":
                index = url_index.get(call.path.rstrip("/").rsplit("/", 1)[-1])
                if index is not None:
                    per_op_slack[index] += 1
            elif channel.startswith("CT"):
                per_op_slack[int(channel[2:])] += 1
            elif channel == INCIDENT and call.params.get("thread_ts"):
                replies.append(str(call.params["thread_ts"]))
            elif channel == INCIDENT:
                named = _NAME.search(json.dumps(call.params))
                if named:
                    index = int(named.group(1))
                    per_op_slack[index] += 1
                    ts = call.response.get("ts") if isinstance(call.response, dict) else None
                    if ts:
                        notice_index[str(ts)] = index
        for thread_ts in replies:
            if thread_ts in notice_index:
                per_op_slack[notice_index[thread_ts]] += 1
        slack_stats = PerOperation.of([per_op_slack[i] for i in range(operations)])
    return TrackingResult(
        operations=operations,
        finished=finished,
        poll_interval=poll_interval,
        cancel_delay=cancel_delay,
        took=took,
        click_ack=Spread.of(acks),
        lag=Spread.of(lags) if lags else Spread(0, math.nan, math.nan, math.nan, math.nan),
        polytomic=PerOperation.of([per_sync[sync_id] for sync_id, _ in runs]),
        # The budget: 1 cancel + one poll per interval until terminal + 2.
        polytomic_budget=1 + math.ceil(cancel_delay / poll_interval) + 2,
        slack=slack_stats,
        # One per change of state (prompt cleared on confirm, status posted on canceling, edited
        # on canceled) plus the two incident notices (the notice, its outcome reply).
        slack_budget=3 + 2,
        slack_methods=dict(slack_counts),
        wrong_outcomes=wrong,
        cpu_seconds=cpu,
        clicks_cpu_seconds=clicks_cpu,
        system_share=system / (user + system),
        fakes_cpu_seconds=fakes_cpu,
        idle_rss_mib=idle,
        peak_rss_mib=peak,
        webhooks=webhooks,
        events_interval=events_interval if webhooks else 0.0,
        polytomic_total=sum(purposes.values()) / operations,
        polytomic_purposes={name: count / operations for name, count in sorted(purposes.items())},
        deliveries=delivered,
        rate=rate,
        jitter=jitter,
    )
