"""GET /healthz, /readyz and /metrics, and structured logs that carry the operation ID."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

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

    # The final edit lands before the row's finish commits, and the gauge is read at most once a
    # second: wait for it rather than race it.
    body = wait_until(
        lambda: (
            (text := httpx.get(bot.url + "/metrics").text)
            and metric(text, "polytomic_bot_operations_in_flight") == 0
            and text
        ),
        what="no operation in flight",
    )
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


@contextmanager
def small_filesystem(path: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` at `path`, to fill up (needs the right to mount: root, as in CI)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a file in `directory` until its filesystem is full."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(fd)
    return filler


def readyz(bot: Any) -> httpx.Response:
    return httpx.get(bot.url + "/readyz", timeout=10)


def test_readyz_fails_while_the_disk_is_full(start_bot: Any, tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk") as disk:
        bot = start_bot(database_url=f"sqlite:///{disk / 'bot.db'}")
        assert readyz(bot).status_code == 200
        filler = fill(disk)
        answer = wait_until(lambda: (r := readyz(bot)).status_code == 503 and r, what="503 on a full disk")
        assert "cannot be written" in answer.text and "full" in answer.text, answer.text
        assert httpx.get(bot.url + "/healthz").status_code == 200  # alive, just not ready
        filler.unlink()
        wait_until(lambda: readyz(bot).status_code == 200, what="200 once there is room again")
        bot.stop()


def test_readyz_fails_while_postgresql_is_read_only(start_bot: Any, postgres_url: str) -> None:
    """A failover to a standby, or a database set read-only: reads work, writes do not."""
    import psycopg
    from sqlalchemy.engine import make_url

    bot = start_bot(database_url=postgres_url)
    assert readyz(bot).status_code == 200
    url = make_url(postgres_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def set_read_only(on: bool) -> None:
        setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")  # this session may write
            conn.execute(f'ALTER DATABASE "{url.database}" {setting}')
            # Sessions keep what they started with: end the bot's, as a failover would.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    set_read_only(True)
    answer = wait_until(lambda: (r := readyz(bot)).status_code == 503 and r, what="503 while read-only")
    assert "read-only" in answer.text, answer.text
    set_read_only(False)
    wait_until(lambda: readyz(bot).status_code == 200, what="200 once writable again")


def test_slack_errors_are_counted_under_a_fixed_set_of_labels(
    start_bot: Any, slack: Any, polytomic: Any
) -> None:
    """An error code Slack (or a proxy in front of it) invents is counted as `other`: label
    values come from a fixed set, so the series cannot grow without bound."""
    bot = start_bot(INCIDENT_CHANNEL="CINCIDENT")
    sync = polytomic.add_sync(name="Counted")
    sync.start_execution(cancel_delay=0.3)
    for i in range(3):
        slack.inject_error("chat.postMessage", f"proxy_invented_{i:04d}", channel="CINCIDENT")
    slack.inject_error("chat.postMessage", "not_in_channel", channel="CINCIDENT")
    confirm(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    final_text(slack, "*canceled*")

    def counted() -> str | None:
        body = httpx.get(bot.url + "/metrics").text
        return body if 'polytomic_bot_remote_errors_total{kind="other",remote="slack"}' in body else None

    body = wait_until(counted, what="the invented error counted as other")
    assert "proxy_invented" not in body
    assert metric(body, 'polytomic_bot_remote_errors_total{kind="other",remote="slack"}') >= 1
