"""kill -9 in the middle of an alert: a real bot process, events read by its poller from the
fake Polytomic, killed while the alert's edit is in flight (Slack slow to answer chat.update),
and a new process carries on: nothing lost (both replies, the recovery) and nothing posted
twice (one alert, one reply per failure, one recovery)."""

from __future__ import annotations

import time
from typing import Any

from tests.harness import CHANNEL, SlackUser, all_text, answer_to, query_db, wait_until

ENV = {
    "POLYTOMIC_EVENTS_INTERVAL": "0.3",
    "POLL_INTERVAL": "0.2",
    "LEASE_TTL": "3",
    "SLACK_POST_INTERVAL": "0",
}


def fail(polytomic: Any, sync_id: str, error: str) -> None:
    sync = polytomic.sync(sync_id)
    sync.start_execution(cancel_delay=None)
    sync.finish_current("failed", errors=[error])


def alerts(slack: Any) -> list[Any]:
    return [
        m for m in slack.messages_in(CHANNEL) if not m.is_reply and "subscribed this channel" not in m.text
    ]


def test_kill_9_in_the_middle_of_an_alert_loses_nothing_and_posts_nothing_twice(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    bot = start_bot(**ENV)
    sync = polytomic.add_sync(name="Orders")
    assert "Subscribed" in answer_to(SlackUser(bot, slack, "UADMIN", CHANNEL), f"subscribe {sync.id}")
    fail(polytomic, sync.id, "first failure")
    wait_until(lambda: len(alerts(slack)) == 1, 20, what="the alert")

    slack.set_latency("chat.update", 5.0)  # the next edit hangs in Slack …
    fail(polytomic, sync.id, "second failure")
    fail(polytomic, sync.id, "third failure")
    rows = "SELECT failures FROM alerts"
    wait_until(lambda: query_db(sqlite_url, rows) == [(3,)], 20, what="both failures taken in")
    time.sleep(1.0)  # … the pass is editing, with the replies still to come
    bot.kill()
    [alert] = alerts(slack)
    assert slack.thread(CHANNEL, alert.ts) == []  # no reply went out before the kill
    # The edit the dead process had sent lands (Slack answers after its delay): it was in flight.
    wait_until(lambda: slack.calls("chat.update"), 10, what="the edit in flight at the kill")
    slack.set_latency("chat.update", 0)

    start_bot(**ENV)
    wait_until(lambda: len(slack.thread(CHANNEL, alert.ts)) == 2, 30, what="both replies")
    wait_until(lambda: "3 times in a row" in all_text(alerts(slack)[0].latest), 30, what="the edit")
    sync.start_execution(cancel_delay=None)
    sync.finish_current("completed")
    wait_until(lambda: len(slack.thread(CHANNEL, alert.ts)) == 3, 30, what="the recovery")
    wait_until(
        lambda: "recovered* after 3 failures" in all_text(alerts(slack)[0].latest), 30, what="the edit"
    )
    time.sleep(1.5)  # let a duplicate, if any, arrive before counting
    [alert] = alerts(slack)
    replies = [all_text(m.latest) for m in slack.thread(CHANNEL, alert.ts)]
    assert len(replies) == 3
    assert (
        "Failure 2" in replies[0] and "Failure 3" in replies[1] and "recovered after 3 failures" in replies[2]
    )
    assert query_db(sqlite_url, "SELECT count(*) FROM alerts") == [(1,)]
    assert query_db(sqlite_url, "SELECT count(*), count(reply_ts) FROM alert_failures") == [(3, 3)]
