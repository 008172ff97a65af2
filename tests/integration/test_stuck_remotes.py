"""A Polytomic that drips its answers for some executions does not starve the others (issue 12):
with every tracker worker on a dripping poll, a healthy confirm's cancel still goes out once a
call's deadline frees a worker, and the stuck rows keep being retried, never given up. And a
pass stuck for ever does not hold its row for ever: another process takes it over.

The tracker's loop runs for real (threads, leases, the system clock), wired as production wires
it (`build_services`); Slack and Polytomic are the fakes over HTTP, the database an SQLite file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import Mode, load_settings
from bot.db import migrate
from bot.db.operations import OperationStore
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.services import Services, build_services
from bot.tracker import loop
from tests.harness import CHANNEL, base_env, wait_until

STUCK = 4  # as many as the tracker has workers


@pytest.fixture
def services(slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str) -> Iterator[Services]:
    env = base_env(slack, polytomic, sqlite_url, SLACK_POST_INTERVAL="0", POLL_INTERVAL="0.2")
    migrate.upgrade(sqlite_url)
    services = build_services(load_settings(Mode.WORKER, env), with_tracker=True, responders=1)
    assert services.tracker is not None and services.tracker.workers == STUCK
    services.start()
    yield services
    services.stop(1.0)


def click(services: Services, slack: FakeSlack, sync_id: str, execution_id: str) -> int:
    """What the confirm click's listener records, and its nudge."""
    op_id = services.operations.create(
        kind="cancel",
        sync_id=sync_id,
        execution_id=execution_id,
        team_id="T1",
        requested_by="UADMIN",
        channel_id=CHANNEL,
        response_url=slack.response_url("confirm"),
        incident_channel=None,
        poll_timeout=600,
    )
    services.nudge()
    return op_id


def test_dripping_polls_do_not_starve_a_healthy_cancel(
    services: Services, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    slack.add_channel(CHANNEL, "ops")
    stuck = []
    for i in range(STUCK):
        sync = polytomic.add_sync(name=f"Stuck {i}")
        run = sync.start_execution(cancel_delay=None, rows_per_second=10)
        click(services, slack, sync.id, run.id)
        stuck.append((sync, run))
    for sync, _run in stuck:  # each cancel sent: from now on their rows are polled
        polytomic.wait_until(lambda s=sync: polytomic.effective_cancels(s.id) == 1, timeout=20)
    for _sync, run in stuck:
        # Each byte well inside the 5 s read timeout; the whole answer would take minutes.
        polytomic.inject(
            "GET", rf"/executions/{run.id}$", status=200, body="{}" + " " * 400, drip=0.5, times=1000
        )
    polytomic.wait_for_requests(
        "GET", "|".join(rf"/executions/{r.id}$" for _, r in stuck), count=STUCK, answered=False
    )

    healthy = polytomic.add_sync(name="Healthy")
    run = healthy.start_execution(cancel_delay=None, rows_per_second=10)
    clicked = time.monotonic()
    click(services, slack, healthy.id, run.id)
    polytomic.wait_until(lambda: polytomic.effective_cancels(healthy.id) == 1, timeout=60)
    waited = time.monotonic() - clicked
    print(f"healthy cancel sent {waited:.1f} s after its click, with {STUCK} dripping polls")
    # Bounded by one call's deadline (10 s), not by the drip (over three minutes an answer).
    assert waited < 25, waited
    # The stuck rows are tried again, not dropped: more polls arrive after the first ones ended.
    polytomic.wait_for_requests(
        "GET",
        "|".join(rf"/executions/{r.id}$" for _, r in stuck),
        count=STUCK + 1,
        answered=False,
        timeout=30,
    )


def test_a_pass_stuck_past_the_limit_lets_another_process_take_over(
    slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass that never ends (something no deadline foresaw) keeps its lease only PASS_LIMIT
    seconds; then the lease expires and another process's tracker claims the row."""
    monkeypatch.setattr(loop, "PASS_LIMIT", 1.0)
    env = base_env(slack, polytomic, sqlite_url, SLACK_POST_INTERVAL="0", LEASE_TTL="1")
    migrate.upgrade(sqlite_url)
    services = build_services(load_settings(Mode.WORKER, env), with_tracker=True, responders=1)
    tracker = services.tracker
    assert tracker is not None
    entered, release = threading.Event(), threading.Event()

    def stuck(op: Any) -> Any:
        entered.set()
        release.wait(60)
        raise RuntimeError("woke up late")

    monkeypatch.setattr(tracker.reconciler, "process", stuck)
    services.start()
    try:
        sync = polytomic.add_sync(name="Stuck pass")
        run = sync.start_execution(cancel_delay=None)
        op_id = click(services, slack, sync.id, run.id)
        assert entered.wait(10)
        other = OperationStore(services.db, lease_ttl=1)
        started = time.monotonic()

        def taken() -> bool:
            return any(op.id == op_id for op in other.claim("another-process", 5))

        wait_until(taken, 20, 0.2, "another process to claim the stuck row")
        print(f"stuck row claimed by another process {time.monotonic() - started:.1f} s after its pass began")
    finally:
        release.set()
        services.stop(1.0)
