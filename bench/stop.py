"""A 1,000-sync stop (issue 15): `/polytomic cancel running to <connection>`, confirmed once, with
the fake Slack enforcing Slack's real rate limits and the bot pacing its posts as in production.
With `webhooks` (the default) the fake Polytomic delivers its events, signed, to the bot, whose
polling is only the fallback (POLL_INTERVAL=30, POLYTOMIC_EVENTS_INTERVAL=30).

Measured: seconds from the confirm click to every cancel sent; seconds from the last run turning
terminal to the final summary; every Slack call of the stop (the prompt and its removal through
response_url included) and those inside a Retry-After window; the bot's CPU per sync from the
command to the stop finished; peak RSS."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.common import cpu_seconds, fresh_database, peak_rss_mib
from bench.profile import Recorder
from bot.db.engine import Database
from bot.db.stops import StopStore
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.process import POLYTOMIC_KEY, SIGNING_SECRET, BotProcess, base_env, free_port
from bot.fakes.signing import block_actions_body, sign, slash_command_body
from bot.fakes.slack import FakeSlack

CHANNEL = "CSTOP"
INCIDENT = "CINCIDENT"
USER = "UONCALL"
WEBHOOK_SECRET = "bench-webhook-secret"
CONNECTION = "Salesforce prod"


@dataclass(frozen=True)
class StopResult:
    syncs: int
    webhooks: bool
    canceled: int  # operations that ended canceled
    effective_cancels: int  # syncs whose run Polytomic canceled exactly once
    prompt_seconds: float  # the command → its prompt
    confirm_to_cancels: float  # the confirm click → the last cancel POST sent
    terminal_to_final: float  # the last run terminal → the final summary posted
    delivered_to_final: float  # the last terminal event's delivery answered → the final summary
    settled_to_final: float  # the last operation finished in the database → the final summary
    summary_times: tuple[float, ...]  # each version of the summary, seconds after the confirm
    took: float  # the confirm click → the stop finished (every message delivered)
    slack_calls: int  # every Slack call of the stop (Web API and response_url)
    slack_methods: dict[str, int]
    slack_refused: int  # answered 429
    window_violations: int  # sent inside a Retry-After window
    summary_edits: int
    min_edit_gap: float  # seconds between two edits of the summary, the smallest
    cpu_seconds: float
    prompt_cpu_seconds: float  # of those, the command → its prompt (the listing's status reads)
    peak_rss_mib: float

    @property
    def cpu_ms_per_sync(self) -> float:
        return self.cpu_seconds / self.syncs * 1000

    @property
    def prompt_cpu_ms_per_sync(self) -> float:
        return self.prompt_cpu_seconds / self.syncs * 1000


def db_stop_id(db: Database) -> int:
    with db.read_engine.connect() as conn:
        return int(conn.scalar(text("SELECT max(id) FROM stops")) or 0)


def _signed_post(url: str, body: str) -> httpx.Response:
    headers = sign(SIGNING_SECRET, body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.post(url, content=body, headers=headers, timeout=10)


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def run(
    workdir: Path,
    database_url: str,
    *,
    syncs: int = 1000,
    cancel_delay: float = 3.0,
    webhooks: bool = True,
    profile: Path | None = None,
) -> StopResult:
    fresh_database(database_url, [(USER, "cancel", "*")])
    with (
        FakeSlack(real_limits=True) as slack,
        FakePolytomic(api_key=POLYTOMIC_KEY, delivery_concurrency=4) as polytomic,
    ):
        connection = polytomic.add_connection(CONNECTION)
        runs = []
        for i in range(syncs):
            sync = polytomic.add_sync(name=f"Stopped-{i:05d}", target_connection_id=connection.id)
            runs.append((sync, sync.start_execution(cancel_delay=cancel_delay, rows_per_second=50)))
        env = base_env(
            slack,
            polytomic,
            database_url,
            POLL_INTERVAL="30" if webhooks else "1",
            POLL_TIMEOUT="600",
            LEASE_TTL="30",
            INCIDENT_CHANNEL=INCIDENT,
            POLYTOMIC_WEBHOOK_SECRET=WEBHOOK_SECRET if webhooks else None,
            POLYTOMIC_EVENTS_INTERVAL="30" if webhooks else "0",
        )
        bot = BotProcess("serve", env, workdir, free_port()).start()
        if webhooks:
            polytomic.register_webhook(bot.url + "/polytomic/webhook", WEBHOOK_SECRET)
        assert bot.proc is not None
        pid = bot.proc.pid
        engine = create_engine(database_url)
        try:
            polytomic.clear_requests()
            slack.clear_requests()
            recorder = Recorder(pid, profile) if profile is not None else None
            cpu_before = cpu_seconds(pid)
            asked = time.monotonic()
            prompt_url = slack.response_url("stop-prompt")
            command = slash_command_body(
                text=f"cancel running to {CONNECTION}",
                user_id=USER,
                channel_id=CHANNEL,
                response_url=prompt_url,
            )
            if _signed_post(bot.url + "/slack/events", command).status_code != 200:
                raise RuntimeError("the command was not acked")
            prompt = _wait(lambda: slack.responses(prompt_url), 300, "the prompt")[0]
            prompt_seconds = time.monotonic() - asked
            prompt_cpu = cpu_seconds(pid) - cpu_before
            value = next(
                e["value"]
                for b in prompt["blocks"]
                for e in b.get("elements") or []
                if e.get("action_id") == "stop_confirm"
            )
            click = block_actions_body(
                user_id=USER,
                action_id="stop_confirm",
                value=value,
                channel_id=CHANNEL,
                response_url=slack.response_url("stop-click"),
            )
            clicked_wall = time.time()
            clicked = time.monotonic()
            if _signed_post(bot.url + "/slack/events", click).status_code != 200:
                raise RuntimeError("the confirm click was not acked")

            def finished() -> bool:
                with engine.connect() as conn:
                    return bool(conn.scalar(text("SELECT count(*) FROM stops WHERE finished_at IS NOT NULL")))

            _wait(finished, 600, "the stop to finish")
            took = time.monotonic() - clicked
            cpu = cpu_seconds(pid) - cpu_before
            if recorder is not None:
                recorder.stop()
            peak = peak_rss_mib(pid)
            with engine.connect() as conn:
                canceled = int(
                    conn.scalar(text("SELECT count(*) FROM operations WHERE state = 'canceled'")) or 0
                )
            db = Database(database_url)
            try:
                stop_id = db_stop_id(db)
                last_settled = max(
                    op.finished_at for op in StopStore(db).operations(stop_id) if op.finished_at
                )
            finally:
                db.dispose()
        finally:
            engine.dispose()
            bot.stop()

        cancels = [r for r in polytomic.cancel_requests()]
        last_cancel = max(r.time for r in cancels) if cancels else clicked_wall
        ended = [e.ended_at for _s, e in runs if e.ended_at is not None]
        summaries = [m for m in slack.messages_in(CHANNEL) if not m.is_reply]
        final_at = None
        edit_times: list[float] = []
        if summaries:
            versions = summaries[0].versions
            edit_times = [float(v["time"]) for v in versions]
            final_at = next(
                (float(v["time"]) for v in versions if str(v.get("text", "")).startswith("Stopped")), None
            )
        gaps = [b - a for a, b in itertools.pairwise(edit_times)]
        methods: dict[str, int] = {}
        for call in slack.requests:
            methods[call.method] = methods.get(call.method, 0) + 1
        terminal = ("sync.canceled", "sync.completed", "sync.failed", "sync.completed_with_errors")
        delivered = [d.finished_at for d in polytomic.deliveries if d.event_type in terminal and d.ok]
        refused = sum(
            1
            for c in slack.requests
            if isinstance(c.response, dict) and c.response.get("error") == "ratelimited"
        )
        return StopResult(
            syncs=syncs,
            webhooks=webhooks,
            canceled=canceled,
            effective_cancels=sum(1 for s, _e in runs if polytomic.effective_cancels(s.id) == 1),
            prompt_seconds=prompt_seconds,
            confirm_to_cancels=last_cancel - clicked_wall,
            terminal_to_final=(final_at - max(ended)) if final_at is not None and ended else float("nan"),
            settled_to_final=(final_at - last_settled.timestamp()) if final_at is not None else float("nan"),
            delivered_to_final=(final_at - max(delivered))
            if final_at is not None and delivered
            else float("nan"),
            summary_times=tuple(round(t - clicked_wall, 2) for t in edit_times),
            took=took,
            slack_calls=len(slack.requests),
            slack_methods=methods,
            slack_refused=refused,
            window_violations=len(slack.window_violations),
            summary_edits=max(0, len(edit_times) - 1),
            min_edit_gap=min(gaps) if gaps else float("nan"),
            cpu_seconds=cpu,
            prompt_cpu_seconds=prompt_cpu,
            peak_rss_mib=peak,
        )
