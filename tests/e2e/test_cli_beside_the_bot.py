"""The command line beside a running bot on SQLite: `migrate`, `grant` and `revoke` take the
same lock as `serve` and are refused while it runs, changing nothing; `grants` only reads, so
it answers. Once no process holds the file, all of them work."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.harness import BotProcess, run_cli

IN_USE = 3


def cli(bot: BotProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line with the running bot's settings (so the same DATABASE_URL), in the
    test's process, which is another process than the bot's (tests/harness.py `run_cli`)."""
    return run_cli(args, bot.env, bot.workdir)


def rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(query).fetchall()


def snapshot(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "grants": rows(database, "SELECT subject_id, action, scope, granted_by FROM grants ORDER BY id"),
        "audit": rows(database, "SELECT id, action, outcome FROM audit_events ORDER BY id"),
        "version": rows(database, "SELECT version_num FROM alembic_version"),
    }


def assert_refused(result: subprocess.CompletedProcess[str], database: Path, pid: int, way_out: str) -> None:
    assert result.returncode == IN_USE, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()  # one line, no traceback, no log lines
    assert line.startswith("polytomic-bot: another polytomic-bot process is using"), line
    assert str(database) in line and f"pid {pid}" in line, line
    assert way_out in line, line


def test_migrate_grant_and_revoke_wait_their_turn_beside_serve(
    start_bot: Any, sqlite_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    lock_file = tmp_path / "bot.db.lock"
    bot = start_bot()
    assert bot.proc is not None
    assert lock_file.read_text() == str(bot.proc.pid)
    before = snapshot(database)

    migrate = cli(bot, "migrate")
    assert_refused(migrate, database, bot.proc.pid, "stop it, then migrate")
    grant = cli(bot, "grant", "U123", "cancel", "*")
    assert_refused(grant, database, bot.proc.pid, "use `/polytomic grant` in Slack while the bot runs")
    assert "or stop it and run this again" in grant.stderr
    revoke = cli(bot, "revoke", "U123", "cancel", "*")
    assert_refused(revoke, database, bot.proc.pid, "use `/polytomic revoke` in Slack")

    # Nothing changed, and the lock file still names the process that holds it.
    assert snapshot(database) == before
    assert lock_file.read_text() == str(bot.proc.pid)
    # The listing only reads, so it answers beside the bot.
    listed = cli(bot, "grants")
    assert listed.returncode == 0, listed.stderr
    assert "BOT_ADMINS  user UADMIN" in listed.stdout
    assert snapshot(database) == before
    # And the bot is unharmed.
    assert httpx.get(bot.url + "/readyz", timeout=5).status_code == 200

    # However the holder dies, the file is free again: then every command works.
    bot.kill()
    granted = cli(bot, "grant", "U123", "cancel", "*")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == "granted cancel on * to user U123"
    assert rows(database, "SELECT subject_id, action, scope FROM grants") == [("U123", "cancel", "*")]
    revoked = cli(bot, "revoke", "U123", "cancel", "*")
    assert revoked.returncode == 0, revoked.stderr
    assert rows(database, "SELECT count(*) FROM grants") == [(0,)]
    assert [row[1] for row in snapshot(database)["audit"]][-2:] == ["grant", "revoke"]
    migrated = cli(bot, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == "database is at the newest migration"

    # And a bot started again takes the file back.
    again = start_bot()
    assert again.proc is not None
    assert lock_file.read_text() == str(again.proc.pid)
    assert cli(again, "grant", "U123", "cancel", "*").returncode == IN_USE


def test_migrate_beside_a_worker_is_refused_too(start_bot: Any, tmp_path: Path) -> None:
    worker = start_bot("worker")
    assert worker.proc is not None
    result = cli(worker, "migrate")
    assert_refused(result, tmp_path / "bot.db", worker.proc.pid, "stop it, then migrate")
