"""The `polytomic-bot` command line with a controlled environment: `bot.cli.main`, which the
console script calls, run in this process (`run`: a process per command cost 1.4 s of CPU in
imports alone), and the console script itself as a subprocess (`run_script`) where what is
checked is the process: that it is installed, its help, its exit status and stderr on a bad
setting, and a port in use (serving touches the process's signals)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SETTINGS_HELP
from tests.harness import run_cli

EXECUTABLE = Path(sys.executable).with_name("polytomic-bot")
SYNC = "248df4b7-aa70-47b8-a036-33ac447e668d"
BOT_TOKEN = "xoxb-1111-2222-botTOKENvalue"
API_KEY = "pk_live_polytomicKEYvalue"
SIGNING_SECRET = "d41d8cd98f00b204e9800998ecf8427e"


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "POLYTOMIC_")) and k not in SETTINGS_HELP
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env.update(settings)
    return env


def run_script(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """The console script in a process of its own."""
    return subprocess.run(
        [str(EXECUTABLE), *args],
        env=clean_env(tmp_path, **settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`polytomic-bot ARGS` in this process (tests/harness.py `run_cli`)."""
    return run_cli(args, clean_env(tmp_path, **settings), tmp_path)


def db_rows(tmp_path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        return conn.execute(query).fetchall()


def test_the_console_script_is_installed() -> None:
    assert EXECUTABLE.exists(), EXECUTABLE


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    result = run_script(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for name in ("serve", "socket", "worker", "migrate", "grant", "revoke", "grants"):
        assert any(line.strip().startswith(name + " ") for line in result.stdout.splitlines()), name


def test_no_subcommand_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 2
    assert "usage" in result.stderr.lower()


def _one_line_error(result: subprocess.CompletedProcess[str], variable: str) -> str:
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_serve_without_signing_secret(tmp_path: Path) -> None:
    result = run_script(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, POLYTOMIC_API_KEY=API_KEY, PORT="1")
    _one_line_error(result, "SLACK_SIGNING_SECRET")
    output = result.stdout + result.stderr
    assert BOT_TOKEN not in output and API_KEY not in output
    assert not (tmp_path / "cli.db").exists()  # stopped before touching anything


def test_socket_without_app_token(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "socket",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        POLYTOMIC_API_KEY=API_KEY,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
    )
    _one_line_error(result, "SLACK_APP_TOKEN")
    output = result.stdout + result.stderr
    for secret in (BOT_TOKEN, API_KEY, SIGNING_SECRET):
        assert secret not in output


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_SIGNING_SECRET", "not a secret but hunter2 with spaces"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token-hunter2"),
        ("POLYTOMIC_API_KEY", "hunter2 hunter2"),
    ],
)
def test_a_malformed_secret_is_named_but_never_echoed(tmp_path: Path, variable: str, value: str) -> None:
    settings = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "POLYTOMIC_API_KEY": API_KEY,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        variable: value,
    }
    result = run(tmp_path, "serve", **settings)
    line = _one_line_error(result, variable)
    assert "hunter2" not in result.stdout + result.stderr
    assert "hunter2" not in line


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    tables = {row[0] for row in db_rows(tmp_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"grants", "operations", "audit_events", "alembic_version"} <= tables
    (version,) = db_rows(tmp_path, "SELECT version_num FROM alembic_version")[0]
    assert version
    again = run(tmp_path, "migrate")  # idempotent
    assert again.returncode == 0, again.stderr


def test_grant_list_revoke_and_audit(tmp_path: Path) -> None:
    granted = run(tmp_path, "grant", "U123", "cancel", "*")
    assert granted.returncode == 0, granted.stderr
    assert db_rows(tmp_path, "SELECT subject_kind, subject_id, action, scope FROM grants") == [
        ("user", "U123", "cancel", "*")
    ]
    (granted_by,) = db_rows(tmp_path, "SELECT granted_by FROM grants")[0]
    assert str(granted_by).startswith("cli:")

    group = run(tmp_path, "grant", "S777", "admin", f"https://app.polytomic.com/syncs/{SYNC.upper()}")
    assert group.returncode == 0, group.stderr

    listed = run(tmp_path, "grants", BOT_ADMINS="UBOSS")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any("U123" in line and "cancel" in line and "*" in line for line in lines), listed.stdout
    assert any("S777" in line and "admin" in line and SYNC in line for line in lines), listed.stdout
    assert any("UBOSS" in line for line in lines), listed.stdout

    revoked = run(tmp_path, "revoke", "U123", "cancel", "*")
    assert revoked.returncode == 0, revoked.stderr
    assert db_rows(tmp_path, "SELECT subject_id FROM grants") == [("S777",)]
    after = run(tmp_path, "grants")
    assert "U123" not in after.stdout
    assert "S777" in after.stdout

    audit = db_rows(tmp_path, "SELECT action, actor, sync_id, outcome FROM audit_events ORDER BY id")
    assert [row[0] for row in audit] == ["grant", "grant", "revoke"]
    assert all(str(row[1]).startswith("cli:") for row in audit)
    assert audit[0][2] is None and audit[1][2] == SYNC
    assert "U123" in str(audit[0][3]) and "S777" in str(audit[1][3]) and "U123" in str(audit[2][3])


def test_repeated_grant_and_revoke_change_nothing_and_are_audited(tmp_path: Path) -> None:
    assert run(tmp_path, "grant", "U123", "cancel", SYNC).returncode == 0
    again = run(tmp_path, "grant", "U123", "cancel", SYNC)
    assert again.returncode == 0
    assert "already" in again.stdout
    assert db_rows(tmp_path, "SELECT count(*) FROM grants") == [(1,)]
    missing = run(tmp_path, "revoke", "U999", "cancel", SYNC)
    assert missing.returncode == 0
    assert "no such grant" in missing.stdout
    assert db_rows(tmp_path, "SELECT count(*) FROM grants") == [(1,)]
    outcomes = [str(row[0]) for row in db_rows(tmp_path, "SELECT outcome FROM audit_events ORDER BY id")]
    assert len(outcomes) == 3
    assert outcomes[0].endswith("changed") and outcomes[1].endswith("unchanged")
    assert outcomes[2].endswith("unchanged")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("grant", "bob", "cancel", "*"), "subject"),
        (("grant", "u123", "cancel", "*"), "subject"),
        (("grant", "C123", "cancel", "*"), "subject"),
        (("grant", "U123", "cancel", "everything"), "scope"),
        (("revoke", "U123", "cancel", "not-a-sync"), "scope"),
        (("grant", "U123", "delete", "*"), "action"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(("polytomic-bot", "usage")), result.stderr
    if (tmp_path / "cli.db").exists():
        assert db_rows(tmp_path, "SELECT count(*) FROM grants") == [(0,)]
        assert db_rows(tmp_path, "SELECT count(*) FROM audit_events") == [(0,)]


def _tables(tmp_path: Path) -> set[str]:
    return {str(row[0]) for row in db_rows(tmp_path, "SELECT name FROM sqlite_master WHERE type='table'")}


def test_grants_only_reads_and_never_creates_the_database(tmp_path: Path) -> None:
    result = run(tmp_path, "grants")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "does not exist" in line and "run `polytomic-bot migrate`" in line, line
    assert not (tmp_path / "cli.db").exists()


def test_grants_on_a_database_without_the_schema_says_run_migrate(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    result = run(tmp_path, "grants")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.endswith("has no schema yet: run `polytomic-bot migrate`"), line
    assert _tables(tmp_path) == {"unrelated"}  # no upgrade behind anyone's back


def test_grants_on_a_database_a_newer_version_migrated(tmp_path: Path) -> None:
    assert run(tmp_path, "grant", "U123", "cancel", "*").returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    result = run(tmp_path, "grants")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "is at migration 9999_from_the_future, which this version of polytomic-bot does not know" in line
    assert db_rows(tmp_path, "SELECT version_num FROM alembic_version") == [("9999_from_the_future",)]


# ---- start-up failures other than settings: one line that names the problem ---------------

SERVE = {"SLACK_BOT_TOKEN": BOT_TOKEN, "POLYTOMIC_API_KEY": API_KEY, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
DOWN = "postgresql+psycopg://polytomic:hunter2-db-password@127.0.0.1:1/bot"  # nothing listens on port 1


def _one_line_failure(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # JSON logs
    assert len(lines) == 1, result.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    output = result.stdout + result.stderr
    for secret in (BOT_TOKEN, API_KEY, SIGNING_SECRET, "hunter2-db-password"):
        assert secret not in output
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "grants"])
def test_a_database_that_is_down_is_one_line(tmp_path: Path, command: str) -> None:
    result = run(tmp_path, command, PORT="1", DATABASE_URL=DOWN, **SERVE)
    line = _one_line_failure(result, "database", "127.0.0.1:1")
    assert "***" in line  # the URL is named, its password not


def test_a_lock_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "cli.db.lock").mkdir()  # where the lock file should be, a directory
    result = run(tmp_path, "serve", PORT="1", **SERVE)
    _one_line_failure(result, "lock file", "cli.db.lock", "directory")


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_script(tmp_path, "serve", PORT=str(port), **SERVE)
    _one_line_failure(result, f"cannot listen on 0.0.0.0:{port}", "in use")
