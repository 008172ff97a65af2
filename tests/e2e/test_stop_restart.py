"""A stop (many syncs at once) survives a kill -9 in its middle: the restarted process carries on
from the rows, and no cancel, pause, summary or incident post is sent twice (issue 15)."""

from __future__ import annotations

import time
from typing import Any

from tests.harness import (
    CHANNEL,
    INCIDENTS,
    SlackUser,
    all_text,
    button,
    query_db,
    status_messages,
    wait_until,
)


def test_kill_in_the_middle_of_a_stop(start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str) -> None:
    env = {"INCIDENT_CHANNEL": INCIDENTS, "POLL_INTERVAL": "0.3", "LEASE_TTL": "3"}
    bot = start_bot(**env)
    connection = polytomic.add_connection("Salesforce prod")
    syncs = [
        polytomic.add_sync(name=f"Orders {i:02d}", target_connection_id=connection.id) for i in range(12)
    ]
    for sync in syncs:
        sync.start_execution(cancel_delay=0.3)
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _ack, url = user.command("cancel running to Salesforce prod")
    prompt = user.answers(url)[0]
    # Cancels answer slowly, so the process dies with some sent and others not.
    polytomic.set_latency(1.0, r"/cancel$", method="POST")  # 12 cancels on 4 workers: >= 3 s
    user.click("stop_pause_confirm", button(prompt, "stop_pause_confirm")["value"])
    wait_until(lambda: len(polytomic.cancel_requests()) >= 3, 20, what="some cancels")
    # Not in the instant between Slack taking the summary or the notice and its ts being
    # recorded: a post can repeat after a crash there (README, Limits and choices).
    posted = "SELECT count(*) FROM stops WHERE summary_ts IS NOT NULL AND incident_ts IS NOT NULL"
    wait_until(lambda: query_db(sqlite_url, posted) == [(1,)], 20, what="the summary and notice recorded")
    bot.kill()
    sent_before = len(polytomic.cancel_requests())
    assert sent_before < 12
    polytomic.clear_faults()

    start_bot(**env)

    def final() -> Any:
        for message in status_messages(slack):
            if "Stopped 12 syncs to Salesforce prod: 12 canceled" in message.latest["text"]:
                return message
        return None

    summary = wait_until(final, 40, what="the final summary")
    time.sleep(1.0)  # a duplicate, if any, would arrive now
    assert len(status_messages(slack)) == 1  # one summary, posted once
    assert "12 paused" in all_text(summary.latest)
    for sync in syncs:
        assert polytomic.effective_cancels(sync.id) == 1
        keys = {r.idempotency_key for r in polytomic.cancel_requests(sync.id)}
        assert len(keys) == 1  # a repeated cancel (if any) was the same operation's: acted on once
        pauses = [r for r in polytomic.requests if r.path.endswith(f"{sync.id}/activate") and r.effective]
        assert len(pauses) == 1
    [notice] = status_messages(slack, INCIDENTS)
    assert len(slack.thread(INCIDENTS, notice.ts)) == 1
    assert query_db(sqlite_url, "SELECT count(*) FROM operations") == [(12,)]
    assert query_db(sqlite_url, "SELECT count(*) FROM stops WHERE finished_at IS NOT NULL") == [(1,)]
