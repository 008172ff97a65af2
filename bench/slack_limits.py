"""Slack's real rate limits: N cancellations confirmed at once in one channel, with the fake
Slack enforcing Slack's limits (chat.postMessage about 1 a second per channel with a short
burst, the tiers of chat.update and the rest). How many Web API calls Slack refused (429),
whether any call came while a Retry-After window was shut, and that every message still
ends on its final state.

The floor is set by Slack, not by the bot: every cancellation posts a notice and an outcome
in the one incident channel, so N cancellations take about 2N seconds of that channel's
limit, whatever the bot does. What the bot decides is how many of its calls are wasted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Spread, fresh_database, send_load
from bench.tracking import _finished
from bot.fakes.polytomic import FakeExecution, FakePolytomic
from bot.fakes.process import POLYTOMIC_KEY, SIGNING_SECRET, BotProcess, base_env, free_port
from bot.fakes.signing import block_actions_body
from bot.fakes.slack import FakeSlack

CHANNEL = "CLIMITS"
INCIDENT = "CINCIDENT"
USER = "UONCALL"


@dataclass(frozen=True)
class SlackLimitsResult:
    operations: int
    poll_interval: float
    cancel_delay: float
    finished: int
    took: float  # first click sent → every operation finished
    calls: int  # Web API calls (response_url answers are not rate-limited this way)
    refused: int  # of which answered 429
    window_violations: int  # calls that arrived while a Retry-After window was shut
    undelivered: int  # status messages or incident threads not ending on "canceled"
    lag: Spread  # run turned terminal → final edit of its status message
    by_method: dict[str, list[int]] = field(default_factory=dict)  # method → [calls, 429s]
    violations: list[str] = field(default_factory=list)  # the first few, described

    @property
    def refused_share(self) -> float:
        return self.refused / self.calls if self.calls else 0.0


def _name(i: int) -> str:
    return f"Limited-{i:04d}"


def all_text(version: dict[str, Any]) -> str:
    """A message version's text and blocks, as one string to look for words in."""
    return json.dumps({"text": version.get("text"), "blocks": version.get("blocks")})


def run(
    workdir: Path,
    database_url: str,
    *,
    operations: int = 30,
    poll_interval: float = 1.0,
    cancel_delay: float = 5.0,
    concurrency: int = 10,
) -> SlackLimitsResult:
    fresh_database(database_url, [(USER, "cancel", "*")])
    with FakeSlack(real_limits=True) as slack, FakePolytomic(api_key=POLYTOMIC_KEY) as polytomic:
        runs: list[tuple[str, FakeExecution]] = []
        for i in range(operations):
            sync = polytomic.add_sync(name=_name(i))
            runs.append((sync.id, sync.start_execution(cancel_delay=cancel_delay, rows_per_second=50)))
        env = base_env(
            slack,
            polytomic,
            database_url,
            POLL_INTERVAL=str(poll_interval),
            POLL_TIMEOUT="600",
            LEASE_TTL="30",
            INCIDENT_CHANNEL=INCIDENT,
        )
        bot = BotProcess("serve", env, workdir, free_port()).start()
        try:
            clicks = [
                block_actions_body(
                    user_id=USER,
                    action_id="cancel_confirm",
                    value=json.dumps({"s": sync_id, "e": execution.id}, separators=(",", ":")),
                    channel_id=CHANNEL,
                    response_url=slack.response_url(),
                )
                for sync_id, execution in runs
            ]
            slack.clear_requests()
            started = time.monotonic()
            _, statuses, _, _ = send_load(bot.url + "/slack/events", clicks, SIGNING_SECRET, concurrency)
            if any(status != 200 for status in statuses):
                raise RuntimeError(f"{sum(s != 200 for s in statuses)} confirm clicks were not acked")
            # Two incident posts per cancellation at about 1 a second: the floor is 2N seconds.
            deadline = started + 120 + operations * 6
            finished = 0
            while time.monotonic() < deadline:
                finished = _finished(database_url)
                if finished >= operations:
                    break
                time.sleep(0.5)
            took = time.monotonic() - started
        finally:
            bot.stop()

        calls = [c for c in slack.requests if c.method != "response_url"]
        by_method: dict[str, list[int]] = {}
        for call in calls:
            method = call.method
            if method == "chat.postMessage":
                method += f" ({'incident channel' if call.params.get('channel') == INCIDENT else 'channel'})"
            counts = by_method.setdefault(method, [0, 0])
            counts[0] += 1
            counts[1] += call.status == 429
        violations = slack.window_violations

        undelivered = 0
        lags: list[float] = []
        status_messages = [m for m in slack.messages_in(CHANNEL) if not m.is_reply]
        notices = [m for m in slack.messages_in(INCIDENT) if not m.is_reply]
        for i, (_sync_id, execution) in enumerate(runs):
            mine = [m for m in status_messages if _name(i) in all_text(m.latest)]
            notice = [m for m in notices if _name(i) in all_text(m.latest)]
            replies = slack.thread(INCIDENT, notice[0].ts) if len(notice) == 1 else []
            if (
                len(mine) != 1
                or "canceled" not in all_text(mine[0].latest).lower()
                or not replies
                or "canceled" not in all_text(replies[-1].latest).lower()
                or execution.ended_at is None
            ):
                undelivered += 1
                continue
            lags.append(float(mine[0].latest["time"]) - execution.ended_at)
        undelivered += sum(1 for sync_id, _ in runs if polytomic.effective_cancels(sync_id) != 1)
    return SlackLimitsResult(
        operations=operations,
        poll_interval=poll_interval,
        cancel_delay=cancel_delay,
        finished=finished,
        took=took,
        calls=len(calls),
        refused=sum(1 for c in calls if c.status == 429),
        window_violations=len(violations),
        undelivered=undelivered,
        lag=Spread.of(lags) if lags else Spread(0, float("nan"), float("nan"), float("nan"), float("nan")),
        by_method=dict(sorted(by_method.items())),
        violations=[v.describe() for v in violations[:5]],
    )
