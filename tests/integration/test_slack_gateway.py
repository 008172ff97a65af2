"""bot.slack.SlackGateway against the fake Slack over HTTP: calls are paced, not refused, and
nothing is ever sent while a Retry-After window is shut."""

from __future__ import annotations

import heapq
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.config import DEFAULT_SLACK_POST_INTERVAL
from bot.fakes.slack import FakeSlack
from bot.pacing import Backoff, Pacer
from bot.slack import POST_MESSAGE_BURST, WAIT_IN_PLACE, SlackGateway, Throttled, known_limits
from bot.views.blocks import View


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(real_limits=True) as slack:
        yield slack
        assert slack.internal_errors == []


def gateway(fake: FakeSlack, pacer: Pacer | None = None) -> SlackGateway:
    return SlackGateway(WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5), pacer=pacer)


def view(text: str) -> View:
    return View(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def test_posts_queued_on_one_channel_each_get_their_turn(fake: FakeSlack) -> None:
    """Ten operations want to post in one channel at once, as tracker rows do: each is told
    when its turn comes, comes back then, and is sent; Slack refuses none."""
    slack = gateway(fake)
    due = [(time.monotonic(), f"op-{i}") for i in range(10)]
    heapq.heapify(due)
    throttled: Counter[str] = Counter()
    while due:
        at, holder = heapq.heappop(due)
        time.sleep(max(0.0, at - time.monotonic()))
        try:
            slack.post_message("C1", view(f"status of {holder}"), holder=holder)
        except Throttled as wait:
            throttled[holder] += 1
            heapq.heappush(due, (time.monotonic() + wait.retry_after, holder))
    posts = fake.calls("chat.postMessage")
    assert [c.status for c in posts] == [200] * 10
    assert fake.window_violations == []
    assert len(fake.messages_in("C1")) == 10
    # Paced: after the burst, one per interval (and never sooner than planned).
    span = posts[-1].time - posts[0].time
    assert span >= (10 - POST_MESSAGE_BURST) * DEFAULT_SLACK_POST_INTERVAL - 0.05
    # No busy loop: each waiting operation was told its time once, and came back for it.
    assert max(throttled.values()) == 1 and sum(throttled.values()) == 10 - POST_MESSAGE_BURST


def test_with_no_post_interval_posts_are_paced_only_once_refused(fake: FakeSlack) -> None:
    fake.set_real_limits(False)
    slack = SlackGateway(WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5), post_interval=0)
    for i in range(10):
        slack.post_message("C1", view(f"post {i}"), holder=f"op-{i}")  # none is Throttled
    fake.inject_rate_limit("chat.postMessage", retry_after=1, channel="C1")
    with pytest.raises(Throttled):
        slack.post_message("C1", view("refused"), holder="op-10")
    assert slack.pacer.interval("chat.postMessage:C1") > 0  # now it is paced
    assert slack.pacer.interval("chat.postMessage:C2") == 0


def test_a_429_shuts_the_gate_until_retry_after(fake: FakeSlack) -> None:
    slack = gateway(fake)
    ts = slack.post_message("C1", view("posted"))
    fake.inject_rate_limit("chat.update", retry_after=1)
    with pytest.raises(Throttled) as refused:
        slack.update_message("C1", ts, view("refused"))
    assert refused.value.retry_after == pytest.approx(1.0, abs=0.05)
    with pytest.raises(Throttled) as shut:  # inside the window: not even sent
        slack.update_message("C1", ts, view("still shut"))
    assert 0.5 < shut.value.retry_after + WAIT_IN_PLACE <= 1.0
    assert fake.call_count("chat.update") == 1
    time.sleep(shut.value.retry_after)
    slack.update_message("C1", ts, view("after the window"))  # the rest is waited in place
    assert [c.status for c in fake.calls("chat.update")] == [429, 200]
    assert fake.message("C1", ts).text == "after the window"
    assert fake.window_violations == []
    # chat.postMessage's windows are per channel: another method's 429 does not shut them.
    slack.post_message("C1", view("posts are not shut"))


def test_the_caller_refused_is_first_in_line_when_the_window_ends(fake: FakeSlack) -> None:
    slack = gateway(fake)
    ts = slack.post_message("C1", view("posted"))
    fake.inject_rate_limit("chat.update", retry_after=1)
    with pytest.raises(Throttled) as refused:
        slack.update_message("C1", ts, view("refused"), holder="op-1")
    with pytest.raises(Throttled) as behind:
        slack.update_message("C1", ts, view("asked later"), holder="op-2")
    assert refused.value.retry_after < behind.value.retry_after
    assert refused.value.retry_after + WAIT_IN_PLACE == pytest.approx(1.0, abs=0.05)


def test_a_slack_that_does_not_refuse_is_not_throttled(fake: FakeSlack) -> None:
    fake.set_real_limits(False)
    slack = gateway(fake)
    ts = slack.post_message("C1", view("posted"))
    for i in range(60):  # more than a tier's worth a minute: nothing is paced until refused
        slack.update_message("C1", ts, view(f"edit {i}"))
    assert fake.call_count("chat.update") == 60


def test_a_method_refused_is_paced_under_its_limit(fake: FakeSlack) -> None:
    """chat.update under a tier-style limit (scaled down: 10 per 2 s): two threads keep
    editing; after the first refusal the gate paces the method and Slack refuses none more."""
    fake.set_rate_limit("chat.update", 10, per_seconds=2.0)
    slack = gateway(fake, Pacer(known_limits(), backoff=Backoff(window=2.0)))
    ts = slack.post_message("C1", view("posted"))

    def edit(worker: int) -> None:
        for i in range(12):
            while True:
                try:
                    slack.update_message("C1", ts, view(f"{worker}/{i}"), holder=f"w{worker}")
                    break
                except Throttled as wait:
                    time.sleep(wait.retry_after)

    threads = [threading.Thread(target=edit, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    updates = fake.calls("chat.update")
    assert sum(c.status == 200 for c in updates) == 24
    refused = sum(c.status == 429 for c in updates)
    assert 1 <= refused <= 2, [c.status for c in updates]  # the first, and one in flight with it
    assert fake.window_violations == []
