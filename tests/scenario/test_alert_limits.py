"""Alerts at the edges: a run the fake Polytomic fails on its own (the demo's path: nothing but
the fakes), Slack's rate limit holding posts back without losing the final state, two replicas
on one PostgreSQL database alerting once, and the verb App Home lists subscriptions with."""

from __future__ import annotations

from collections.abc import Callable

from bot.db import subscriptions
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.harness import CHANNEL, SlackUser, answer_to, query_db
from tests.scenario.alerting import alerts_in, fail, hear, replies_to, subscribe, succeed, text_of
from tests.scenario.inprocess import InProcessBot, wait_until

Start = Callable[..., InProcessBot]


def test_a_run_the_fake_fails_on_its_own_alerts_with_its_error(
    start_bot: Start, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    bot = start_bot(SLACK_POST_INTERVAL="0")
    sync = polytomic.add_sync(name="Nightly orders")
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), "*")
    sync.start_execution(outcome="failed", after=0.05, cancel_delay=None)
    wait_until(lambda: polytomic.sync(sync.id).executions[-1].status == "failed")
    hear(bot)
    [alert] = alerts_in(slack, CHANNEL)
    assert "*Nightly orders* *failed* once" in text_of(alert) and "Sync failed" in text_of(alert)


def test_slacks_rate_limit_holds_posts_back_and_the_final_state_still_lands(
    start_bot: Start, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    bot = start_bot()  # Slack's own pace between posts (SLACK_POST_INTERVAL's default)
    sync = polytomic.add_sync(name="Orders")
    subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    slack.rate_limit_for("chat.postMessage", 1.5, channel=CHANNEL)
    for n in range(3):
        fail(polytomic, sync.id, f"failure {n + 1}")
    succeed(polytomic, sync.id)
    hear(bot)
    assert alerts_in(slack, CHANNEL) == []  # refused for now: nothing posted, nothing lost
    wait_until(
        lambda: alerts_in(slack, CHANNEL) and len(replies_to(slack, alerts_in(slack, CHANNEL)[0])) == 1, 20
    )
    [alert] = alerts_in(slack, CHANNEL)
    assert "*recovered* after 3 failures" in text_of(alert)
    # Taken in together: the alert shows the whole streak, and its thread the recovery only.
    assert "recovered after 3 failures" in text_of(replies_to(slack, alert)[0])
    assert query_db(bot.settings.database_url, "SELECT count(*), count(finished_at) FROM alerts") == [(1, 1)]


def test_two_replicas_on_postgresql_alert_once(
    start_bot: Start, slack: FakeSlack, polytomic: FakePolytomic, postgres_url: str
) -> None:
    one = start_bot(database_url=postgres_url, SLACK_POST_INTERVAL="0")
    two = start_bot(database_url=postgres_url, SLACK_POST_INTERVAL="0")
    sync = polytomic.add_sync(name="Orders")
    subscribe(SlackUser(one, slack, "UADMIN", CHANNEL), sync.id)
    for n in range(3):
        fail(polytomic, sync.id, f"failure {n + 1}")
        hear(one)
        hear(two)  # both poll and both step: the same events, taken in once
    succeed(polytomic, sync.id)
    hear(two)
    hear(one)
    [alert] = alerts_in(slack, CHANNEL)
    assert "*recovered* after 3 failures" in text_of(alert)
    texts = [text_of(r) for r in replies_to(slack, alert)]
    assert len(texts) == 3 and "Failure 2" in texts[0] and "recovered" in texts[2]
    assert query_db(postgres_url, "SELECT count(*) FROM alert_failures") == [(3,)]


def test_app_home_lists_the_subscriptions_a_user_may_manage(
    start_bot: Start, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    bot = start_bot(SLACK_POST_INTERVAL="0")
    orders, leads = polytomic.add_sync(name="Orders"), polytomic.add_sync(name="Leads")
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    answer_to(admin, f"grant <@UALICE> subscribe {orders.id}")
    subscribe(admin, orders.id)
    subscribe(admin, leads.id)
    subscribe(SlackUser(bot, slack, "UADMIN", "COTHER"), "*")
    db = bot.services.db
    assert len(subscriptions.manageable_by(db, "UADMIN", admin=True)) == 3
    mine = subscriptions.manageable_by(db, "UALICE", admin=False, subscribable=[orders.id])
    assert [(s.scope_kind, s.scope_id) for s in mine] == [("sync", orders.id)]
    assert subscriptions.manageable_by(db, "UBOB", admin=False) == []
    everything = subscriptions.manageable_by(db, "UCAROL", admin=False, subscribable=["*"])
    assert len(everything) == 3


def test_a_subscription_the_database_refuses_leaves_no_subscribed_message(
    start_bot: Start, slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str
) -> None:
    import sqlite3

    bot = start_bot(SLACK_POST_INTERVAL="0")
    sync = polytomic.add_sync(name="Orders")
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON subscriptions BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    answer = subscribe(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)
    assert "Nothing was changed" in answer or "nothing was changed" in answer
    assert [m for m in slack.messages_in(CHANNEL)] == []  # posted, then taken back
    assert slack.calls("chat.delete")
    assert query_db(sqlite_url, "SELECT count(*) FROM subscriptions") == [(0,)]


def test_a_sync_or_connection_gone_from_polytomic_can_still_be_unsubscribed_from(
    start_bot: Start, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    bot = start_bot(SLACK_POST_INTERVAL="0")
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    salesforce = polytomic.add_connection("Salesforce")
    sync = polytomic.add_sync(name="Orders")
    subscribe(admin, sync.id)
    subscribe(admin, "to Salesforce")
    polytomic.delete_sync(sync.id)
    polytomic.delete_connection(salesforce.id)
    assert "No connection" in subscribe(admin, "to Salesforce")
    assert "Unsubscribed" in answer_to(admin, f"unsubscribe {sync.id}")
    assert "Unsubscribed" in answer_to(admin, "unsubscribe to salesforce")
    assert query_db(bot.settings.database_url, "SELECT count(*) FROM subscriptions") == [(0,)]
