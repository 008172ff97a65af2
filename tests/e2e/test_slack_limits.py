"""Under Slack's real rate limits (issue 10, defect 4): cancellations confirmed at once in one
channel are paced, not refused. The fake Slack enforces chat.postMessage's limit of about 1
a second per channel (with a short burst) and the tiers of the other methods; the bot must
get few 429s, never call while a Retry-After window is shut, and still show every final state.

The full-size scenario (30 cancellations, about a minute) is `bench/run.py slack-limits`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.harness import SlackUser, all_text, db_rows, wait_until

CHANNEL = "CLIMITS"
INCIDENTS = "CINCIDENT"
OPERATIONS = 6


def test_many_cancellations_in_one_channel_are_paced_not_refused(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    slack.set_real_limits()
    bot = start_bot(INCIDENT_CHANNEL=INCIDENTS)
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    syncs = []
    for i in range(OPERATIONS):
        sync = polytomic.add_sync(name=f"Paced {i}")
        execution = sync.start_execution(cancel_delay=1.5)
        syncs.append(sync)
        value = json.dumps({"s": sync.id, "e": execution.id}, separators=(",", ":"))
        click, _ = user.click("cancel_confirm", value)
        assert click.status_code == 200

    # Each cancellation posts a status message here and two posts in the incident channel:
    # at about 1 a second there, that alone takes 2 * OPERATIONS seconds.
    def finished() -> bool:
        total, done = db_rows(tmp_path, "SELECT count(*), count(finished_at) FROM operations")[0]
        return bool(total == done == OPERATIONS)

    wait_until(finished, 30 + 3 * OPERATIONS, 0.1, "every operation to finish")

    calls = [c for c in slack.requests if c.method != "response_url"]
    refused = [c for c in calls if c.status == 429]
    assert len(refused) <= 0.05 * len(calls), (len(refused), len(calls), slack.describe_requests(40))
    assert slack.window_violations == [], [v.describe() for v in slack.window_violations]
    # Every final state was delivered: one status message per sync, edited to its outcome, and
    # one incident notice per sync whose thread ends on the outcome.
    status = [m for m in slack.messages_in(CHANNEL) if not m.is_reply]
    notices = [m for m in slack.messages_in(INCIDENTS) if not m.is_reply]
    assert len(status) == len(notices) == OPERATIONS
    for i, sync in enumerate(syncs):
        [message] = [m for m in status if f"Paced {i}" in all_text(m.latest)]
        assert "*canceled* after" in all_text(message.latest)
        [notice] = [m for m in notices if f"Paced {i}" in all_text(m.latest)]
        replies = slack.thread(INCIDENTS, notice.ts)
        assert replies and "*canceled*" in all_text(replies[-1].latest)
        assert polytomic.effective_cancels(sync.id) == 1
