"""GET /healthz, /readyz and /metrics, and structured logs that carry the operation ID."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.harness import CHANNEL, SlackUser, confirm, final_text, wait_until


def metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in /metrics")


def test_readyz_follows_the_schema(bot: Any, tmp_path: Path) -> None:
    assert httpx.get(bot.url + "/healthz").text == "ok\n"
    assert httpx.get(bot.url + "/readyz").status_code == 200
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'behind'")
    # The database is asked at most once a second (a flood of probes must not cost the acks).
    answer = wait_until(lambda: (r := httpx.get(bot.url + "/readyz")).status_code == 503 and r, what="503")
    assert "migrate" in answer.text
    assert httpx.get(bot.url + "/healthz").status_code == 200  # alive, just not ready
    assert httpx.post(bot.url + "/metrics").status_code == 405


def test_metrics_and_logs_after_a_cancel(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Measured")
    sync.start_execution(cancel_delay=0.3)
    polytomic.inject("GET", r"/executions/[^/]+$", status=503, times=1)
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    user.command("frobnicate")
    confirm(user, sync.id)
    final_text(slack, "*canceled*")

    body = httpx.get(bot.url + "/metrics").text
    assert metric(body, 'polytomic_bot_commands_total{kind="cancel"}') == 1
    assert metric(body, 'polytomic_bot_commands_total{kind="invalid"}') == 1
    assert metric(body, 'polytomic_bot_permission_decisions_total{action="cancel",decision="allowed"}') == 2
    assert metric(body, "polytomic_bot_cancels_sent_total") == 1
    assert metric(body, 'polytomic_bot_outcomes_total{state="canceled"}') == 1
    assert metric(body, "polytomic_bot_confirm_to_terminal_seconds_count") == 1
    assert metric(body, "polytomic_bot_operations_in_flight") == 0
    assert metric(body, 'polytomic_bot_remote_errors_total{kind="unavailable",remote="polytomic"}') >= 1
    assert "polytomic_bot_tracker_loop_lag_seconds" in body

    lines = [json.loads(line) for line in bot.logs().splitlines() if line.startswith("{")]
    assert lines, "the bot logs JSON lines"
    transitions = [entry for entry in lines if entry["msg"].startswith("operation ")]
    assert {entry["msg"] for entry in transitions} >= {
        "operation confirmed → canceling",
        "operation canceling → canceled",
    }
    assert all(entry["operation_id"] == 1 and entry["sync_id"] == sync.id for entry in transitions)
