"""What needs the real process's output: no secret reaches its log, whatever happened. (The
other failures moved to tests/scenario/test_failures.py.)"""

from __future__ import annotations

from typing import Any

from tests.harness import CHANNEL, POLYTOMIC_KEY, SIGNING_SECRET, SlackUser, answer_to, confirm, final_text


def test_secrets_never_logged(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Logged sync")
    sync.start_execution(cancel_delay=0.2)
    polytomic.inject("GET", r"/status$", status=401, times=1)
    user = SlackUser(bot, slack, "UADMIN", CHANNEL)
    answer_to(user, f"cancel {sync.id}")
    confirm(user, sync.id)
    final_text(slack, "*canceled*")
    logs = bot.logs()
    for secret in (POLYTOMIC_KEY, SIGNING_SECRET, "xoxb-test-token"):
        assert secret not in logs
