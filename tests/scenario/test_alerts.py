"""Alerts, the whole story in this process: subscriptions and their permission, a failed run
alerting every subscribed channel and no other, a streak kept in one thread until it recovers,
a flood told by one digest, and duplicated events alerting once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.harness import CHANNEL, SlackUser, answer_to, query_db
from tests.scenario.alerting import alerts_in, fail, hear, replies_to, subscribe, succeed, text_of, top_level
from tests.scenario.inprocess import InProcessBot

OTHER = "COTHER"


@pytest.fixture
def bot(start_bot: Callable[..., InProcessBot]) -> InProcessBot:
    # No pacing between posts: these stories are about what is posted, not when (the pace is
    # tested in tests/scenario/test_alert_buttons.py and tests/unit/test_pacing.py).
    return start_bot(SLACK_POST_INTERVAL="0")


QUIET = "CQUIET"


def test_subscribe_unsubscribe_and_subscriptions_with_their_permission(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    alice = SlackUser(bot, slack, "UALICE", CHANNEL)
    salesforce = polytomic.add_connection("Salesforce")
    sync = polytomic.add_sync(name="Orders", target_connection_id=salesforce.id)

    denied = subscribe(alice, sync.id)
    assert "don't have permission" in denied and f"`subscribe` on sync `{sync.id}`" in denied
    assert top_level(slack, CHANNEL) == []  # nothing posted, nothing stored
    assert query_db(bot.settings.database_url, "SELECT count(*) FROM subscriptions") == [(0,)]

    answer_to(admin, f"grant <@UALICE> subscribe {sync.id}")
    added = subscribe(alice, '"Orders" finished')
    assert "Subscribed" in added and "*Orders*" in added
    [note] = top_level(slack, CHANNEL)
    assert "<@UALICE> subscribed this channel to failures and finished runs of *Orders*" in text_of(note)
    assert "already subscribed" in subscribe(alice, f"{sync.id} finished")
    assert "Updated" in subscribe(alice, f"{sync.id} failures")

    # `*` and `to <connection>` span syncs: they need `subscribe` on `*`.
    assert "don't have permission" in subscribe(alice, "*")
    assert "don't have permission" in subscribe(alice, "to Salesforce")
    assert "No connection has the name or ID *Nowhere*" in subscribe(admin, "to Nowhere")
    assert "every sync writing to *Salesforce*" in subscribe(admin, "to salesforce all")

    mine = answer_to(alice, "subscriptions")
    assert "This channel's subscriptions" in mine and "*Orders*: failures" in mine
    assert "every sync writing to *Salesforce*: all" in mine
    other = SlackUser(bot, slack, "UALICE", OTHER)
    assert "None yet" in answer_to(other, "subscriptions")
    assert "every channel" in answer_to(SlackUser(bot, slack, "UADMIN", OTHER), "subscriptions")

    assert "Unsubscribed" in answer_to(alice, f"unsubscribe {sync.id}")
    assert "had no subscription" in answer_to(alice, f"unsubscribe {sync.id}")
    assert "don't have permission" in answer_to(alice, "unsubscribe to Salesforce")
    rows = query_db(bot.settings.database_url, "SELECT scope_kind, mode FROM subscriptions")
    assert rows == [("connection", "all")]
    audit = query_db(
        bot.settings.database_url,
        "SELECT actor, action, decision FROM audit_events WHERE action LIKE '%subscribe%'",
    )
    assert ("UALICE", "subscribe", "denied") in audit and ("UALICE", "subscribe", "allowed") in audit
    assert ("UALICE", "unsubscribe", "allowed") in audit and ("UALICE", "unsubscribe", "denied") in audit
    outcomes = query_db(
        bot.settings.database_url,
        "SELECT outcome FROM audit_events WHERE action = 'subscribe' AND outcome IS NOT NULL ORDER BY id",
    )
    assert [o.split(":")[0] for (o,) in outcomes] == ["added", "updated", "added"]


def test_a_private_channel_without_the_bot_is_told_to_invite_it(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    slack.add_channel("GSECRET", is_private=True, is_member=False)
    admin = SlackUser(bot, slack, "UADMIN", "GSECRET")
    sync = polytomic.add_sync(name="Orders")
    answer = subscribe(admin, sync.id)
    assert "`/invite` me" in answer and "Nothing was changed" in answer
    assert query_db(bot.settings.database_url, "SELECT count(*) FROM subscriptions") == [(0,)]


def test_a_failed_run_alerts_each_subscribed_channel_and_no_other(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    orders = polytomic.add_sync(name="Orders")
    leads = polytomic.add_sync(name="Leads")
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), orders.id)
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), "*")  # overlaps: still one alert here
    subscribe(SlackUser(bot, slack, "UADMIN", OTHER), "*")
    subscribe(SlackUser(bot, slack, "UADMIN", QUIET), leads.id)

    execution = fail(polytomic, orders.id, "Salesforce said <!channel> *quota* exceeded")
    hear(bot)

    for channel in (CHANNEL, OTHER):
        [alert] = alerts_in(slack, channel)
        text = text_of(alert)
        assert "*Orders* *failed* once" in text
        assert "&lt;!channel&gt;" in text and "<!channel>" not in text  # escaped: pings no one
        assert execution in text
        assert f"In Polytomic: https://app.polytomic.com/models/syncs/{orders.id}" in text
        actions = [
            e["action_id"] for b in alert.latest["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        assert actions == ["alert_restart", "alert_pause", "alert_mute_hour", "alert_mute_day"]
        assert alert.latest["text"].startswith("Orders failed once")  # the text carries the facts too
    assert alerts_in(slack, QUIET) == []
    assert query_db(bot.settings.database_url, "SELECT count(*) FROM alerts") == [(2,)]


def test_three_failures_then_a_success_are_one_alert_its_replies_and_one_recovery(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync = polytomic.add_sync(name="Orders")
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    for n in range(3):
        fail(polytomic, sync.id, f"failure number {n + 1}")
        hear(bot)
    [alert] = alerts_in(slack, CHANNEL)
    assert "*failed* 3 times in a row" in text_of(alert) and "failure number 3" in text_of(alert)
    replies = replies_to(slack, alert)
    assert [("Failure 2" in text_of(r), "Failure 3" in text_of(r)) for r in replies] == [
        (True, False),
        (False, True),
    ]

    succeed(polytomic, sync.id)
    hear(bot)
    [alert] = alerts_in(slack, CHANNEL)
    assert "*recovered* after 3 failures" in text_of(alert)
    assert not any(b["type"] == "actions" for b in alert.latest["blocks"])  # nothing to restart now
    replies = replies_to(slack, alert)
    assert len(replies) == 3 and "recovered after 3 failures" in text_of(replies[-1])

    # The next failure is a new streak: a new alert.
    fail(polytomic, sync.id, "again")
    hear(bot)
    assert len(alerts_in(slack, CHANNEL)) == 2
    assert len(replies_to(slack, alert)) == 3


def test_twenty_failures_in_thirty_seconds_are_one_digest(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    salesforce = polytomic.add_connection("Salesforce")
    syncs = [polytomic.add_sync(name=f"Sync {n:02}", target_connection_id=salesforce.id) for n in range(20)]
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), "to Salesforce")
    for n, sync in enumerate(syncs):
        fail(polytomic, sync.id, "Salesforce is down")
        if n % 7 == 6:
            hear(bot)  # some arrive while the digest is being built
        bot.clock.advance(1.5)
    hear(bot)
    [digest] = alerts_in(slack, CHANNEL)
    text = text_of(digest)
    assert "*20 syncs* to *Salesforce* failed since" in text
    assert "Sync 00" in text and "Sync 19" in text
    assert replies_to(slack, digest) == []
    assert query_db(bot.settings.database_url, "SELECT count(*) FROM alert_digests") == [(1,)]

    # Further failures are told by the digest, not by single alerts.
    fail(polytomic, syncs[0].id, "still down")
    hear(bot)
    assert len(alerts_in(slack, CHANNEL)) == 1
    assert "Sync 00*: 2 times in a row" in text_of(alerts_in(slack, CHANNEL)[0])


def test_duplicate_events_make_no_duplicate_alerts(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    from bot.db.events import Incoming
    from bot.polytomic.events import event_key, parse_event

    sync = polytomic.add_sync(name="Orders")
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    fail(polytomic, sync.id)
    hear(bot)
    hear(bot)  # the overlap window reads the same events again
    [raw] = [e for e in polytomic.events if e["type"] == "sync.failed"]
    assert bot.services.feed is not None
    event = parse_event(raw)
    bot.services.feed.take([Incoming(event_key(event), event, raw)], "webhook")  # and the webhook brings it
    again = {**raw, "id": "a-redelivery-with-a-new-id"}  # Polytomic sending the same run twice
    bot.services.feed.take([Incoming(event_key(parse_event(again)), parse_event(again), again)], "webhook")
    bot.step()
    bot.step()
    [alert] = alerts_in(slack, CHANNEL)
    assert "once" in text_of(alert) and replies_to(slack, alert) == []
    assert query_db(bot.settings.database_url, "SELECT count(*) FROM alert_failures") == [(1,)]


def test_modes_say_which_runs_a_channel_hears_of_and_canceled_neither_opens_nor_closes_a_streak(
    bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    sync = polytomic.add_sync(name="Orders")
    for channel, mode in ((CHANNEL, "failures"), (OTHER, "finished"), (QUIET, "all")):
        subscribe(SlackUser(bot, slack, "UADMIN", channel), f"{sync.id} {mode}")
    succeed(polytomic, sync.id)
    sync.start_execution(cancel_delay=None)
    sync.finish_current("canceled")
    hear(bot)
    assert alerts_in(slack, CHANNEL) == []
    assert ["completed" in text_of(m) for m in alerts_in(slack, OTHER)] == [True]
    assert ["completed" in text_of(m) for m in alerts_in(slack, QUIET)] == [True, False]
    assert "canceled" in text_of(alerts_in(slack, QUIET)[1])

    fail(polytomic, sync.id, "broken")
    hear(bot)
    sync.start_execution(cancel_delay=None)
    sync.finish_current("canceled")  # a canceled run in the middle of a streak…
    hear(bot)
    fail(polytomic, sync.id, "still broken")
    hear(bot)
    [streak] = alerts_in(slack, CHANNEL)
    assert "2 times in a row" in text_of(streak)  # …neither closed it nor counted
    assert len(alerts_in(slack, QUIET)) == 3  # its one streak; the canceled run was not a notice
