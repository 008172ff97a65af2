"""Answers when the database fails (issue 12): every answer path ends in a reply, and "nothing
was changed" is said only when the write is known to have failed. Slash commands beside a real
`polytomic-bot serve` whose PostgreSQL path goes silent (a TCP proxy that holds every byte), and
`polytomic-bot grant` on a disk that is full (the process may not grow any file)."""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.fakes.tcp_proxy import TcpProxy
from tests.harness import CHANNEL, EXECUTABLE, SlackUser, all_text, query_db


@pytest.fixture
def db_proxy(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        yield proxy, url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)


def answer(user: SlackUser, text: str, timeout: float = 30.0) -> str:
    ack, url = user.command(text)
    assert ack.status_code == 200
    return all_text(user.answers(url, timeout=timeout)[0])


@pytest.mark.postgres
def test_commands_while_postgresql_is_silent_are_answered(
    db_proxy: tuple[TcpProxy, str],
    start_bot: Any,
    slack: FakeSlack,
    polytomic: FakePolytomic,
    postgres_url: str,
) -> None:
    proxy, proxied_url = db_proxy
    bot = start_bot(database_url=proxied_url)
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    proxy.blackhole()
    try:
        changed = answer(user, "grant <@UOTHER> cancel *")
        listed = answer(user, "grants")
    finally:
        proxy.restore()
    assert "nothing was changed" in changed, changed
    assert "couldn't reach the database" in listed, listed
    assert query_db(postgres_url, "SELECT count(*) FROM grants WHERE subject_id = 'UOTHER'") == [(0,)]
    assert "UOTHER" not in answer(user, "grants")  # and the bot answers normally again


def test_grant_on_a_full_disk_answers_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POLYTOMIC_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'bot.db'}"
    subprocess.run([str(EXECUTABLE), "migrate"], env=env, check=True, capture_output=True, timeout=60)

    def full_disk() -> None:  # no file may grow: a write fails as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    done = subprocess.run(
        [str(EXECUTABLE), "grant", "UOTHER", "cancel", "*"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=full_disk,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "nothing was changed" in lines[0] and "Traceback" not in done.stderr, lines[0]
    assert query_db(env["DATABASE_URL"], "SELECT count(*) FROM grants") == [(0,)]
