"""An alert's buttons, clicked by people who may and people who may not: Restart (a start
operation, idempotent per alert and failure), Pause and Resume, Mute, Cancel; and
`/polytomic start`, whose live status goes through the same post machinery as a cancel's.
A channel that goes away has its subscriptions disabled and the subscriber told."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from bot.fakes.slack.records import Message
from tests.harness import CHANNEL, SlackUser, all_text, answer_to, button, query_db
from tests.scenario.alerting import alerts_in, element, fail, hear, replies_to, subscribe, text_of
from tests.scenario.inprocess import InProcessBot


@pytest.fixture
def bot(start_bot: Callable[..., InProcessBot]) -> InProcessBot:
    return start_bot(SLACK_POST_INTERVAL="0")


def an_alert(bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic) -> tuple[str, Message]:
    sync = polytomic.add_sync(name="Orders")
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    fail(polytomic, sync.id, "Destination said no")
    hear(bot)
    [alert] = alerts_in(slack, CHANNEL)
    return sync.id, alert


def starts(polytomic: FakePolytomic, sync_id: str) -> int:
    return len(polytomic.requests_to("POST", rf"/api/syncs/{sync_id}/executions$"))


def said(user: SlackUser, url: str) -> str:
    return "\n".join(all_text(a) for a in user.answers(url))


def test_restart_by_a_permitted_user_and_by_an_unpermitted_one(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync_id, alert = an_alert(bot, slack, polytomic)
    restart = element(alert, "alert_restart")
    assert restart["confirm"]["title"]["text"] == "Restart this sync?"  # a confirm dialog first

    bob = SlackUser(bot, slack, "UBOB", CHANNEL)
    _, url = bob.click("alert_restart", restart["value"], message_ts=alert.ts)
    bot.step()
    assert "don't have permission" in said(bob, url) and "`start`" in said(bob, url)
    assert starts(polytomic, sync_id) == 0

    answer_to(SlackUser(bot, slack, "UADMIN", CHANNEL), f"grant <@UCAROL> start {sync_id}")
    carol = SlackUser(bot, slack, "UCAROL", CHANNEL)
    carol.click("alert_restart", restart["value"], message_ts=alert.ts)
    carol.click("alert_restart", restart["value"], message_ts=alert.ts)  # a double click
    bot.wait_until(lambda: any("*running*" in text_of(r) for r in replies_to(slack, alert)))
    assert starts(polytomic, sync_id) == 1
    [status] = [r for r in replies_to(slack, alert) if "started" in text_of(r)]
    assert "<@UCAROL> started *Orders*" in text_of(status)
    bot.wait_until(lambda: "Restart requested by <@UCAROL>: running" in text_of(alerts_in(slack, CHANNEL)[0]))
    assert element(alerts_in(slack, CHANNEL)[0], "alert_cancel")  # a run is going: Cancel is offered

    polytomic.sync(sync_id).finish_current("completed")
    hear(bot)
    bot.wait_until(lambda: "*recovered* after 1 failure" in text_of(alerts_in(slack, CHANNEL)[0]))
    bot.wait_until(
        lambda: "*completed*" in text_of(next(r for r in replies_to(slack, alert) if "started" in text_of(r)))
    )
    audit = query_db(bot.settings.database_url, "SELECT actor, action, decision, outcome FROM audit_events")
    assert ("UBOB", "start.confirm", "denied", None) in audit
    assert ("UCAROL", "start.confirm", "allowed", None) in audit
    assert ("UCAROL", "start", None, "completed") in audit
    rows = query_db(bot.settings.database_url, "SELECT kind, state FROM operations ORDER BY id")
    assert rows == [("start", "denied"), ("start", "completed")]


def test_pause_and_resume_by_a_permitted_user_and_by_an_unpermitted_one(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync_id, alert = an_alert(bot, slack, polytomic)
    pause = element(alert, "alert_pause")
    assert pause["confirm"]["title"]["text"] == "Pause this sync's schedule?"

    bob = SlackUser(bot, slack, "UBOB", CHANNEL)
    _, url = bob.click("alert_pause", pause["value"], message_ts=alert.ts)
    assert "don't have permission" in said(bob, url)
    assert polytomic.sync(sync_id).active is True

    answer_to(SlackUser(bot, slack, "UADMIN", CHANNEL), f"grant <@UCAROL> pause {sync_id}")
    carol = SlackUser(bot, slack, "UCAROL", CHANNEL)
    _, url = carol.click("alert_pause", pause["value"], message_ts=alert.ts)
    assert "Paused the schedule of *Orders*" in said(carol, url)
    assert polytomic.sync(sync_id).active is False
    _, again = carol.click("alert_pause", pause["value"], message_ts=alert.ts)
    assert "paused already" in said(carol, again)
    bot.wait_until(lambda: "Schedule paused by <@UCAROL>" in text_of(alerts_in(slack, CHANNEL)[0]))
    resume = element(alerts_in(slack, CHANNEL)[0], "alert_resume")

    _, url = bob.click("alert_resume", resume["value"], message_ts=alert.ts)
    assert "don't have permission" in said(bob, url)
    assert polytomic.sync(sync_id).active is False
    _, url = carol.click("alert_resume", resume["value"], message_ts=alert.ts)
    assert "Resumed the schedule" in said(carol, url)
    assert polytomic.sync(sync_id).active is True
    bot.wait_until(lambda: "alert_pause" in str(alerts_in(slack, CHANNEL)[0].latest["blocks"]))
    audit = query_db(bot.settings.database_url, "SELECT actor, action, decision, outcome FROM audit_events")
    assert ("UBOB", "alert.pause", "denied", None) in audit and (
        "UBOB",
        "alert.resume",
        "denied",
        None,
    ) in audit
    assert ("UCAROL", "pause", None, "schedule paused from an alert") in audit
    assert ("UCAROL", "resume", None, "schedule resumed from an alert") in audit
    # One pause and one resume reached Polytomic: the refused clicks and the repeat sent nothing.
    sent = polytomic.requests_to("POST", rf"/api/syncs/{sync_id}/activate$")
    assert [r.json for r in sent] == [{"active": False}, {"active": True}]


def test_mute_holds_back_replies_and_cancel_opens_the_cancel_prompt(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync_id, alert = an_alert(bot, slack, polytomic)
    bob = SlackUser(bot, slack, "UBOB", CHANNEL)
    _, url = bob.click("alert_mute_hour", element(alert, "alert_mute_hour")["value"], message_ts=alert.ts)
    assert "don't have permission" in said(bob, url)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _, url = admin.click("alert_mute_hour", element(alert, "alert_mute_hour")["value"], message_ts=alert.ts)
    assert "Muted *Orders* here until" in said(admin, url)
    fail(polytomic, sync_id, "second")
    hear(bot)
    [alert] = alerts_in(slack, CHANNEL)
    assert "2 times in a row" in text_of(alert) and "Muted here until" in text_of(alert)
    assert replies_to(slack, alert) == []  # muted: the edit, but no new post

    polytomic.sync(sync_id).start_execution(cancel_delay=0.2)
    _, url = admin.click("alert_cancel", element(alert, "alert_mute_day")["value"], message_ts=alert.ts)
    prompt = admin.answers(url)[0]
    assert button(prompt, "cancel_confirm")  # the cancel prompt, with its own confirm


def test_start_command_shows_a_confirm_button_then_a_live_status(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync = polytomic.add_sync(name="Orders")
    bob = SlackUser(bot, slack, "UBOB", CHANNEL)
    assert "don't have permission" in answer_to(bob, f"start {sync.id}")
    answer_to(SlackUser(bot, slack, "UADMIN", CHANNEL), f"grant <@UBOB> start {sync.id}")
    _, url = bob.command('start "Orders"')
    prompt = bob.answers(url)[0]
    start = button(prompt, "start_confirm")
    assert start["confirm"]["confirm"]["text"] == "Start"
    bob.click("start_confirm", start["value"])
    bot.wait_until(lambda: any("*running*" in text_of(m) for m in alerts_in(slack, CHANNEL)))
    assert starts(polytomic, sync.id) == 1
    polytomic.sync(sync.id).finish_current("completed")
    bot.wait_until(lambda: any("*completed*" in text_of(m) for m in alerts_in(slack, CHANNEL)), timeout=20)
    [row] = query_db(
        bot.settings.database_url, "SELECT kind, state, execution_id IS NOT NULL FROM operations"
    )
    assert row == ("start", "completed", 1)


def test_a_start_while_a_run_is_going_says_so(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync = polytomic.add_sync(name="Orders")
    running = sync.start_execution(cancel_delay=None)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _, url = admin.command(f"start {sync.id}")
    admin.click("start_confirm", button(admin.answers(url)[0], "start_confirm")["value"])
    bot.wait_until(lambda: any("*already going*" in text_of(m) for m in alerts_in(slack, CHANNEL)))
    [row] = query_db(bot.settings.database_url, "SELECT state, execution_id FROM operations")
    assert row == ("already_running", running.id)


def test_a_channel_that_goes_away_disables_its_subscriptions_and_tells_the_subscriber(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    slack.add_channel("CDOOMED")
    alice = SlackUser(bot, slack, "UADMIN", "CDOOMED")
    sync = polytomic.add_sync(name="Orders")
    subscribe(alice, sync.id)
    slack.set_channel("CDOOMED", is_archived=True)
    fail(polytomic, sync.id)
    hear(bot)
    rows = query_db(
        bot.settings.database_url, "SELECT disabled_reason, disabled_told_at IS NOT NULL FROM subscriptions"
    )
    assert rows == [("is_archived", 1)]
    [note] = slack.messages_in("UADMIN")
    assert "can no longer post alerts in <#CDOOMED>" in text_of(note) and "disabled" in text_of(note)
    fail(polytomic, sync.id)
    hear(bot)
    assert len(slack.messages_in("UADMIN")) == 1  # told once; nothing more is tried there
    assert "disabled" in answer_to(alice, "subscriptions")


def test_a_start_in_a_channel_the_bot_cannot_post_in_is_told_to_the_requester(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    slack.add_channel("GSECRET", is_private=True, is_member=False)
    sync = polytomic.add_sync(name="Orders")
    admin = SlackUser(bot, slack, "UADMIN", "GSECRET")
    _, url = admin.command(f"start {sync.id}")
    _, click = admin.click("start_confirm", button(admin.answers(url)[0], "start_confirm")["value"])
    bot.wait_until(lambda: polytomic.sync(sync.id).executions)
    polytomic.sync(sync.id).finish_current("completed")
    told = bot.wait_until(
        lambda: [a for a in slack.responses(click) if "*completed*" in all_text(a)], timeout=20
    )
    assert "<@UADMIN> started *Orders*" in all_text(told[0])
    [row] = query_db(bot.settings.database_url, "SELECT state, status_error FROM operations")
    assert row == ("completed", "not_in_channel")


def test_a_409_with_no_run_going_is_a_key_in_flight_and_the_same_key_is_sent_again(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync_id, alert = an_alert(bot, slack, polytomic)
    polytomic.inject("POST", rf"^/api/syncs/{sync_id}/executions$", status=409)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    admin.click("alert_restart", element(alert, "alert_restart")["value"], message_ts=alert.ts)
    bot.wait_until(lambda: any("*running*" in text_of(r) for r in replies_to(slack, alert)), timeout=20)
    sent = polytomic.requests_to("POST", rf"^/api/syncs/{sync_id}/executions$")
    assert len(sent) == 2 and len({r.idempotency_key for r in sent}) == 1
    assert sent[0].idempotency_key == f"alert-{alert_id(alert)}-1"
    assert len(polytomic.sync(sync_id).executions) == 2  # the failed run, and the one restart


def alert_id(alert: Message) -> str:
    return element(alert, "alert_pause")["value"]
