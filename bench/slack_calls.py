"""A micro-benchmark of the bot's own CPU per Slack call, against the fake Slack in this
process: N rounds of what a cancellation sends through bot.slack (the status message posted and
edited, the incident notice and its outcome reply posted, each a SlackGateway call with a real
view, and one answer through a response_url with `respond`), and of rendering the status
message and its digest. The caller's thread CPU (time.thread_time) is what is measured,
so the fake's server threads do not count. Not a test; run it to compare a change quickly:

    .venv/bin/python -m bench.slack_calls [N] [--profile]

(`--profile` prints cProfile's top functions of one more round of the gateway calls; run as a
module, since bench/profile.py would shadow the standard library's `profile` that cProfile
imports.) For a "before", run it from a worktree of the other commit with PYTHONPATH set to it
(this file copied there).
"""

from __future__ import annotations

import cProfile
import logging
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.db.models import Operation
from bot.fakes.slack import FakeSlack
from bot.operations import State
from bot.slack import SlackGateway, make_web_client, respond
from bot.views.incident import incident_notice, incident_outcome
from bot.views.status import status_message

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def _operation(state: State) -> Operation:
    return Operation(
        id=42,
        kind="cancel",
        sync_id="248df4b7-aa70-47b8-a036-33ac447e668d",
        sync_name="Tracked-000042 to Salesforce",
        execution_id="7f6e5d4c-3b2a-4190-8877-665544332211",
        requested_by="UONCALL",
        channel_id="CT000042",
        incident_channel="CINCIDENT",
        state=state.value,
        cancel_attempt=1,
        attempts=0,
        rows_written=1234,
        polytomic_status="running",
        created_at=NOW - timedelta(seconds=40),
        cancel_sent_at=NOW - timedelta(seconds=39),
        execution_ended_at=NOW if state is State.CANCELED else None,
        updated_at=NOW,
        next_poll_at=NOW,
    )


class _Settings:
    """What make_web_client reads of bot.config.Settings."""

    def __init__(self, fake: FakeSlack) -> None:
        self.slack_bot_token = fake.bot_token
        self.slack_api_url = fake.api_url


def _best(rounds: int, one: Callable[[int], None]) -> float:
    """The least caller-thread CPU per round of three runs of `rounds` rounds, in seconds."""
    best = float("inf")
    for _ in range(3):
        cpu = time.thread_time()
        for i in range(rounds):
            one(i)
        best = min(best, (time.thread_time() - cpu) / rounds)
    return best


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(args[0]) if args else 300
    logging.basicConfig(level=logging.WARNING)
    canceling, canceled = _operation(State.CANCELING), _operation(State.CANCELED)
    first, last = status_message(canceling, NOW), status_message(canceled, NOW)
    notice, outcome = incident_notice(canceling), incident_outcome(canceled, NOW)
    with FakeSlack() as fake:
        gateway = SlackGateway(make_web_client(_Settings(fake)), post_interval=0, views_interval=0)  # type: ignore[arg-type]
        ts = gateway.post_message("CT000042", first)
        notice_ts = gateway.post_message("CINCIDENT", notice)
        urls = iter([fake.response_url() for _ in range(3 * (rounds // 5))])

        def post(i: int) -> None:
            gateway.post_message("CT000042", first, holder="op-42")

        def update(i: int) -> None:
            gateway.update_message("CT000042", ts, last if i % 2 else first, holder="op-42")

        def reply(i: int) -> None:
            gateway.post_message("CINCIDENT", outcome, thread_ts=notice_ts, holder="op-42")

        def answer(i: int) -> None:
            assert respond(next(urls), first)  # a fresh response_url each time, as each click has

        def render(i: int) -> None:
            status_message(canceling, NOW).digest()  # a pass renders one to three of these

        for i in range(20):  # warm the connection and the caches
            post(i)
        figures = {
            "chat.postMessage": _best(rounds, post),
            "chat.update": _best(rounds, update),
            "chat.postMessage in a thread": _best(rounds, reply),
            "respond (response_url)": _best(rounds // 5, answer),
            "status message rendered + digest": _best(rounds, render),
        }
        if "--profile" in sys.argv:
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(rounds):
                post(i)
                update(i)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        assert fake.internal_errors == []
    width = max(len(name) for name in figures)
    for name, seconds in figures.items():
        print(f"{name:<{width}}  {seconds * 1e6:6.0f} us")
    # A cancellation's five: three posts, one edit, one response_url answer.
    five = figures["chat.postMessage"] * 3 + figures["chat.update"] + figures["respond (response_url)"]
    print(f"{'a cancellation: 4 calls + respond':<{width}}  {five * 1e6:6.0f} us")


if __name__ == "__main__":
    main()
