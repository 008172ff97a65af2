"""Several processes on one PostgreSQL database: started together on an empty one, leases,
takeover of a dead holder's work, and every outcome posted exactly once."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from bot.db import migrate
from tests.harness import INCIDENTS, BotProcess, SlackUser, all_text, button, query_db, wait_until


def owner_of(bot: BotProcess) -> str:
    for line in bot.logs().splitlines():
        if '"tracker started"' in line:
            return str(json.loads(line)["owner"])
    raise AssertionError("no tracker in " + bot.command)


def start_cancellations(
    bots: list[BotProcess], slack: Any, polytomic: Any, count: int, **run: Any
) -> list[Any]:
    """Ask each serve process in turn to cancel one of `count` running syncs."""
    syncs = []
    for i in range(count):
        sync = polytomic.add_sync(name=f"Replica sync {i}")
        sync.start_execution(**run)
        user = SlackUser(bots[i % len(bots)], slack, "UADMIN", f"CCHAN{i}")
        _ack, url = user.command(f"cancel {sync.id}")
        prompt = user.answers(url)[0]
        click, _ = user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
        assert click.status_code == 200
        syncs.append(sync)
    return syncs


def wait_all_final(slack: Any, syncs: list[Any], timeout: float = 40.0) -> None:
    def done() -> bool:
        for i, _sync in enumerate(syncs):
            messages = [m for m in slack.messages_in(f"CCHAN{i}") if not m.is_reply]
            if len(messages) != 1 or "*canceled*" not in all_text(messages[0].latest):
                return False
        return True

    wait_until(done, timeout, 0.1, "every operation to reach canceled")


def wait_incident_threads(slack: Any, count: int, timeout: float = 40.0) -> None:
    """Every incident notice and its outcome reply: posts in the one incident channel are
    paced (about 1 a second per process), so they may come after the status messages."""

    def done() -> bool:
        notices = [m for m in slack.messages_in(INCIDENTS) if not m.is_reply]
        return len(notices) >= count and all(slack.thread(INCIDENTS, n.ts) for n in notices)

    wait_until(done, timeout, 0.1, "every incident notice and its outcome")


def assert_each_exactly_once(slack: Any, polytomic: Any, syncs: list[Any]) -> None:
    wait_incident_threads(slack, len(syncs))
    time.sleep(1.5)  # a duplicate, if any, would arrive now
    notices = [m for m in slack.messages_in(INCIDENTS) if not m.is_reply]
    assert len(notices) == len(syncs)
    duplicates = 0
    for i, sync in enumerate(syncs):
        statuses = [m for m in slack.messages_in(f"CCHAN{i}") if not m.is_reply]
        duplicates += len(statuses) - 1
        assert polytomic.effective_cancels(sync.id) == 1
        assert len({r.idempotency_key for r in polytomic.cancel_requests(sync.id)}) == 1
    for notice in notices:
        replies = slack.thread(INCIDENTS, notice.ts)
        duplicates += len(replies) - 1
    assert duplicates == 0


@pytest.mark.postgres
def test_four_web_processes_started_together_on_an_empty_database(start_bot: Any, postgres_url: str) -> None:
    """A platform scaling `web` to 4 on the first deploy: every process comes up, and the schema
    is upgraded once (the others wait for the upgrade, then find it done)."""
    bots = [start_bot(database_url=postgres_url, wait=False) for _ in range(4)]
    for bot in bots:
        bot.wait_ready(timeout=60)  # raises with the log if the process exited
    for bot in bots:
        assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200
        ready = httpx.get(bot.url + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert bot.proc is not None and bot.proc.poll() is None
    upgraded = [bot for bot in bots if "Running upgrade" in bot.logs()]
    assert len(upgraded) == 1, [bot.logs()[-2000:] for bot in upgraded]
    assert upgraded[0].logs().count("Running upgrade") == len(migrate.known_revisions())
    assert query_db(postgres_url, "SELECT version_num FROM alembic_version") == [(migrate.head_revision(),)]
    assert not any("Traceback" in bot.logs() for bot in bots)


def test_two_web_processes_and_a_worker_share_the_work(
    start_bot: Any, slack: Any, polytomic: Any, postgres_url: str
) -> None:
    env = {
        "database_url": postgres_url,
        "INCIDENT_CHANNEL": INCIDENTS,
        "POLL_INTERVAL": "0.3",
        "LEASE_TTL": "3",
    }
    web_a = start_bot(**env)
    web_b = start_bot(**env)
    worker = start_bot("worker", **env)
    syncs = start_cancellations([web_a, web_b], slack, polytomic, 12, cancel_delay=1.5)
    wait_all_final(slack, syncs)
    assert_each_exactly_once(slack, polytomic, syncs)
    # The work was shared: more than one process moved operations to their outcome.
    owners = {owner_of(b) for b in (web_a, web_b, worker)}
    assert len(owners) == 3
    movers = {b.command + str(b.port) for b in (web_a, web_b, worker) if "→ canceled" in b.logs()}
    assert len(movers) >= 2, movers
    assert query_db(postgres_url, "SELECT count(*) FROM operations WHERE finished_at IS NULL") == [(0,)]


def test_a_dead_holders_leases_are_taken_over(
    start_bot: Any, slack: Any, polytomic: Any, postgres_url: str
) -> None:
    env = {
        "database_url": postgres_url,
        "INCIDENT_CHANNEL": INCIDENTS,
        "POLL_INTERVAL": "0.3",
        "LEASE_TTL": "2",
    }
    web = start_bot(**env)
    worker = start_bot("worker", **env)
    # Slow polls, so that leases are held while the holder is killed.
    polytomic.set_latency(0.8, r"/executions/[^/]+$", method="GET")
    syncs = start_cancellations([web], slack, polytomic, 6, cancel_delay=2.5)
    owners = {owner_of(web): web, owner_of(worker): worker}

    def holder() -> str | None:
        rows = query_db(postgres_url, "SELECT lease_owner FROM operations WHERE lease_owner IS NOT NULL")
        return str(rows[0][0]) if rows else None

    victim_owner = wait_until(holder, 10, 0.02, "a process to hold a lease")
    victim = owners[victim_owner]
    victim.kill()
    owned = "SELECT count(*) FROM operations WHERE lease_owner = :owner"
    held = query_db(postgres_url, owned, {"owner": victim_owner})[0][0]
    survivor = worker if victim is web else web
    wait_all_final(slack, syncs)
    assert_each_exactly_once(slack, polytomic, syncs)
    assert query_db(postgres_url, owned, {"owner": victim_owner}) == [(0,)]
    assert held >= 1
    assert "→ canceled" in survivor.logs()
