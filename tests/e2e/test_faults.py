"""Faults of the database under a whole cancellation (issue 4), which need the real process:
its loop survives the database going away, and /readyz says so over HTTP; and a poll that
answers late, which the test acts on while the tracker's own thread waits for it. (The other
Polytomic and Slack faults moved to tests/scenario/test_faults.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.fakes.tcp_proxy import TcpProxy
from tests.harness import (
    CANCELED,
    CHANNEL,
    INCIDENTS,
    Rows,
    SlackUser,
    assert_canceled_once,
    confirm,
    exec_path,
    final_text,
    polls,
    postgres_rows,
    sqlite_rows,
    status_messages,
    wait_until,
)


def wait_finished(rows: Rows, timeout: float = 20.0) -> None:
    """Until every operation has delivered its final state (finished_at set)."""

    def finished() -> bool:
        counts = rows("SELECT count(*), count(finished_at) FROM operations")[0]
        return counts[0] >= 1 and counts[0] == counts[1]

    wait_until(finished, timeout, 0.05, "the operation to finish")


def start(start_bot: Any, **env: str) -> Any:
    return start_bot(INCIDENT_CHANNEL=INCIDENTS, **env)


def admin(bot: Any, slack: FakeSlack) -> SlackUser:
    return SlackUser(bot, slack, "UADMIN", CHANNEL)


# ---- Polytomic: a poll that answers late, while the tracker's thread waits on it ----------


def test_polytomic_poll_times_out(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """One poll answers after 6 s (the bot's client gives up at 5 s): it is tried again, once."""
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Slow Polytomic")
    execution = sync.start_execution(cancel_delay=0.3)
    polytomic.set_latency(6.0, exec_path(sync, execution), method="GET")
    confirm(admin(bot, slack), sync.id)

    polytomic.wait_for_requests("GET", exec_path(sync, execution), timeout=10, answered=False)
    polytomic.set_latency(0, exec_path(sync, execution), method="GET")  # only the first is slow
    final_text(slack, CANCELED, timeout=20)
    wait_finished(sqlite_rows(tmp_path))
    assert_canceled_once(slack, polytomic, sync, "Slow Polytomic")
    slow, retry = polls(polytomic, sync, execution)[:2]
    assert 5.0 <= retry.time - slow.time < 7.0, retry.time - slow.time  # the client's 5 s timeout


# ---- the database ---------------------------------------------------------------------------


@pytest.fixture
def db_proxy(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A TCP proxy in front of the test's PostgreSQL database, and the URL through it. Set up
    before start_bot, so it is torn down after the bot has stopped."""
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        yield proxy, url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)


def readyz(bot: Any) -> int:
    try:
        return httpx.get(bot.url + "/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return 0


@pytest.mark.postgres
def test_database_briefly_unreachable(
    db_proxy: tuple[TcpProxy, str],
    start_bot: Any,
    slack: FakeSlack,
    polytomic: FakePolytomic,
    postgres_url: str,
) -> None:
    proxy, proxied_url = db_proxy
    bot = start(start_bot, database_url=proxied_url)
    assert readyz(bot) == 200
    sync = polytomic.add_sync(name="Database blip")
    execution = sync.start_execution(cancel_delay=None)
    confirm(admin(bot, slack), sync.id)
    wait_until(lambda: status_messages(slack) and status_messages(slack, INCIDENTS), what="the first posts")
    wait_until(lambda: execution.status == "canceling", what="the cancel")
    # The fault comes after the posts are recorded: a cut between Slack taking a post and its row
    # recording it is the documented window, which test_database_cut_right_after_a_slack_post covers.
    rows = postgres_rows(postgres_url)
    recorded = "SELECT count(*) FROM operations WHERE status_ts IS NOT NULL AND incident_ts IS NOT NULL"
    wait_until(lambda: rows(recorded)[0][0] == 1, what="the posts recorded")

    cut_at = time.monotonic()
    proxy.pause()
    wait_until(lambda: readyz(bot) == 503, 5, 0.1, "/readyz to say 503")
    execution.finish("canceled")  # the outcome lands while the bot cannot record it
    time.sleep(max(0.0, 3.0 - (time.monotonic() - cut_at)))  # the fault: ~3 s without a database
    assert proxy.refused > 0  # the bot kept trying
    proxy.resume()

    wait_until(lambda: readyz(bot) == 200, 10, 0.1, "/readyz to say 200 again")
    final_text(slack, CANCELED, timeout=30)
    wait_finished(postgres_rows(postgres_url), timeout=30)
    assert_canceled_once(slack, polytomic, sync, "Database blip")
    assert bot.proc.poll() is None


@pytest.mark.postgres
def test_database_cut_right_after_a_slack_post(
    db_proxy: tuple[TcpProxy, str],
    start_bot: Any,
    slack: FakeSlack,
    polytomic: FakePolytomic,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worst moment: the database goes away (for 5 s) just as Slack takes the incident
    outcome reply, so the bot cannot record that it posted it."""
    proxy, proxied_url = db_proxy
    bot = start(start_bot, database_url=proxied_url)
    sync = polytomic.add_sync(name="Worst moment")
    sync.start_execution(cancel_delay=0.3)
    dispatch = slack._dispatch
    cuts: list[threading.Timer] = []

    def cut_on_outcome_reply(method: str, params: dict[str, Any], *args: Any) -> Any:
        reply = (
            method == "chat.postMessage" and params.get("channel") == INCIDENTS and params.get("thread_ts")
        )
        if reply and not cuts:  # Slack takes the reply; the bot will not be able to record it
            proxy.pause()
            cut = threading.Timer(5.0, proxy.resume)
            cut.start()  # before the test's thread can see it (it joins it)
            cuts.append(cut)
        return dispatch(method, params, *args)

    monkeypatch.setattr(slack, "_dispatch", cut_on_outcome_reply)
    confirm(admin(bot, slack), sync.id)
    final_text(slack, CANCELED)
    wait_until(lambda: cuts, what="the cut")
    cuts[0].join()
    wait_finished(postgres_rows(postgres_url), timeout=30)
    assert_canceled_once(slack, polytomic, sync, "Worst moment")
