"""The scenario tier's own promises: the bot in this process is production's (the same edge in
front of the same Bolt app), and nothing in it runs on its own: a tracker pass happens when a
test steps, and the clock moves when a test moves it."""

from __future__ import annotations

from typing import Any

from bot.fakes.signing import slash_command_body
from tests.harness import CHANNEL, SlackUser, button, db_rows
from tests.scenario.inprocess import InProcessBot


def test_requests_go_through_the_edge(bot: InProcessBot, slack: Any) -> None:
    body = slash_command_body(text="help", response_url=slack.response_url("edge"), user_id="UADMIN")
    assert bot.post(body, secret="not-the-signing-secret").status_code == 401
    assert bot.post(body).status_code == 200
    assert bot.get("/healthz").text == "ok\n"


def test_nothing_runs_until_the_test_steps(
    bot: InProcessBot, slack: Any, polytomic: Any, tmp_path: Any
) -> None:
    sync = polytomic.add_sync(name="Orders")
    sync.start_execution(cancel_delay=None)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    ack, url = admin.command(f"cancel {sync.id}")
    assert ack.status_code == 200
    bot.services.responder.wait_idle()
    [prompt] = slack.responses(url)
    click, _ = admin.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    assert click.status_code == 200
    # The click is a row; no pass has run: Polytomic and the channel have heard nothing.
    assert db_rows(tmp_path, "SELECT state FROM operations") == [("confirmed",)]
    assert polytomic.cancel_requests(sync.id) == []
    [done] = bot.step()
    assert done.state == "canceling"
    assert len(polytomic.cancel_requests(sync.id)) == 1
    assert len(slack.messages_in(CHANNEL)) == 1
    assert bot.passes == [done]
