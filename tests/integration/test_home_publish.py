"""views.publish through the Slack gateway against the fake Slack with Slack's limits on: a
burst of Home tabs is paced (Tier 4), not refused, and each publish that has to wait is told
when its turn comes; views.open is never paced (a trigger_id lasts 3 seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.fakes.signing import make_trigger_id
from bot.fakes.slack import FakeSlack
from bot.pacing import Rate
from bot.slack import VIEWS_PUBLISH_BURST, SlackGateway, Throttled, known_limits
from bot.views.home import HomeData, home, home_tab
from bot.views.home_modal import cancel_modal
from tests.unit.views.cases import EXEC_ID, NOW, SYNC_ID


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(real_limits=True) as slack:
        yield slack
        assert slack.internal_errors == []
        assert slack.window_violations == []


def test_views_publish_has_a_known_pace_and_views_open_none() -> None:
    limits = known_limits(1.1, 0.6)
    assert limits("views.publish") == Rate(0.6, VIEWS_PUBLISH_BURST)
    assert limits("views.open") is None
    assert known_limits(1.1, 0)("views.publish") is None  # SLACK_VIEWS_INTERVAL=0: only after a 429


def test_a_burst_of_homes_is_paced_not_refused(fake: FakeSlack) -> None:
    gateway = SlackGateway(
        WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5), views_interval=0.6
    )
    view = home_tab(home(HomeData(user_id="UALICE"), NOW))
    told: list[float] = []
    for n in range(VIEWS_PUBLISH_BURST + 5):
        try:
            gateway.publish_home(f"U{n:04d}", view, wait=0.0)
        except Throttled as throttled:
            told.append(throttled.retry_after)
    # The burst went at once; the rest were told to come back, each a little later than the last.
    assert len(fake.calls("views.publish")) == VIEWS_PUBLISH_BURST
    assert len(told) == 5 and told == sorted(told) and told[0] > 0 and len(set(told)) == 5
    assert all(call.ok for call in fake.calls("views.publish"))
    # views.open goes at once whatever views.publish's pace.
    gateway.open_modal(make_trigger_id(), cancel_modal(SYNC_ID, EXEC_ID, "Orders"))
    [opened] = fake.calls("views.open")
    assert opened.ok


def test_the_fake_refuses_what_slack_refuses(fake: FakeSlack) -> None:
    gateway = SlackGateway(WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5))
    trigger = make_trigger_id()
    gateway.open_modal(trigger, cancel_modal(SYNC_ID, EXEC_ID, "Orders"))
    with pytest.raises(Exception, match="exchanged_trigger_id"):
        gateway.open_modal(trigger, cancel_modal(SYNC_ID, EXEC_ID, "Orders"))
    with pytest.raises(Exception, match="invalid_trigger_id"):
        gateway.open_modal("nope", cancel_modal(SYNC_ID, EXEC_ID, "Orders"))
    too_many = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    with pytest.raises(Exception, match="invalid_blocks"):
        gateway.publish_home("UALICE", too_many, wait=1.0)
    fake.set_home_tab(False)
    with pytest.raises(Exception, match="not_enabled"):
        gateway.publish_home("UALICE", home_tab(home(HomeData(user_id="UALICE"), NOW)), wait=1.0)
