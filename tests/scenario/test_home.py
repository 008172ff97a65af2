"""The App Home tab, whole stories in-process: a signed app_home_opened is acked and the viewer's
home published with its sections; the messages tab and Slack's retries change nothing; a viewer
without permission sees no Cancel button; Cancel… opens a modal whose submission cancels the run
with its status message in the viewer's DM, and the open home is republished; a hundred opens
cost Polytomic one round of reads."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.db import subscriptions
from bot.db.engine import Database
from bot.db.subscriptions import Scope
from bot.fakes.process import SIGNING_SECRET
from bot.fakes.signing import (
    app_home_opened,
    home_block_actions_payload,
    payload_body,
    sign,
    view_submission_payload,
)
from bot.views.buttons import (
    HOME_CANCEL_ACTION,
    HOME_CANCEL_MODAL,
    HOME_REFRESH_ACTION,
    home_cancel_value,
)
from tests.harness import CHANNEL, SlackUser, button, query_db, status_messages
from tests.scenario.inprocess import InProcessBot, cli_grant

ALICE, ALICE_DM = "UALICE", "D0ALICE"


def open_home(
    bot: InProcessBot, user_id: str, *, tab: str = "home", retry: int | None = None, **fields: Any
) -> tuple[httpx.Response, dict[str, Any]]:
    """Slack posting app_home_opened (JSON, signed); waits for the answers it started."""
    payload = app_home_opened(
        user_id=user_id, channel_id=fields.pop("channel_id", f"D0{user_id[1:]}"), tab=tab, **fields
    )
    return post_event(bot, payload, retry=retry), payload


def post_event(bot: InProcessBot, payload: dict[str, Any], *, retry: int | None = None) -> httpx.Response:
    body = json.dumps(payload)
    headers = sign(SIGNING_SECRET, body)
    headers["Content-Type"] = "application/json"
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    response = bot.post(body, headers=headers)
    bot.services.responder.wait_idle()
    return response


def click(bot: InProcessBot, payload: dict[str, Any]) -> httpx.Response:
    body = payload_body(payload)
    headers = sign(SIGNING_SECRET, body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = bot.post(body, headers=headers)
    bot.services.responder.wait_idle()
    return response


def mrkdwn(view: dict[str, Any]) -> str:
    """Every mrkdwn string of a view's blocks, one a line."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                out.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(view.get("blocks"))
    return "\n".join(out)


def buttons(view: dict[str, Any], action_id: str | None = None) -> list[dict[str, Any]]:
    found = [
        block["accessory"] for block in view["blocks"] if block.get("accessory", {}).get("type") == "button"
    ]
    found += [el for block in view["blocks"] if block["type"] == "actions" for el in block["elements"]]
    return [b for b in found if action_id is None or b["action_id"] == action_id]


def republish(bot: InProcessBot) -> list[str]:
    """One round of the home refresher, its publishes awaited."""
    assert bot.services.home_refresher is not None
    claimed = bot.services.home_refresher.run_due()
    bot.services.responder.wait_idle()
    return [home.user_id for home in claimed]


def test_a_signed_app_home_opened_publishes_the_viewers_home(
    bot: InProcessBot, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    mine = polytomic.add_sync(name="Orders to Salesforce")
    ours = polytomic.add_sync(name="Leads to HubSpot")
    theirs = polytomic.add_sync(name="Finance <!channel> export")
    idle = polytomic.add_sync(name="Idle sync")
    for sync in (mine, ours, theirs):
        sync.start_execution(cancel_delay=0.3)
    slack.add_usergroup("SONCALL", "oncall", [ALICE, "UBOB"])
    cli_grant(sqlite_url, ALICE, "cancel", mine.id)
    cli_grant(sqlite_url, "SONCALL", "cancel", ours.id)
    cli_grant(sqlite_url, "UBOB", "admin", "*")  # not Alice's: not on her home

    response, _ = open_home(bot, ALICE)
    assert response.status_code == 200 and response.content == b""  # acked at once, nothing in it

    [call] = slack.calls("views.publish")
    assert call.ok and call.params["user_id"] == ALICE
    view = slack.home_view(ALICE)
    assert view is not None and view["type"] == "home"
    text = mrkdwn(view)
    for section in ("Running syncs you may cancel", "Your last operations", "Your permissions"):
        assert f"*{section}*" in text
    cancels = buttons(view, HOME_CANCEL_ACTION)
    assert sorted(b["value"] for b in cancels) == sorted(
        home_cancel_value(sync.id, sync.current_execution.id) for sync in (mine, ours)
    )
    assert "1 running sync you may not cancel" in text
    assert "Finance" not in text and idle.id not in text
    assert "You have not asked me to cancel anything yet." in text
    assert f"`cancel` on sync `{mine.id}` (granted to you)" in text
    assert f"`cancel` on sync `{ours.id}` (granted to <!subteam^SONCALL>)" in text
    assert "admin" not in text.split("*Your permissions*")[1]
    assert len(buttons(view, HOME_REFRESH_ACTION)) == 1
    assert query_db(sqlite_url, "SELECT channel_id FROM homes WHERE user_id = :u", {"u": ALICE}) == [
        (ALICE_DM,)
    ]


def test_the_messages_tab_is_ignored(bot: InProcessBot, slack: Any, polytomic: Any, sqlite_url: str) -> None:
    polytomic.add_sync(name="Orders").start_execution()
    response, _ = open_home(bot, "UADMIN", tab="messages")
    assert response.status_code == 200
    assert slack.calls("views.publish") == []
    assert polytomic.requests == []
    assert query_db(sqlite_url, "SELECT count(*) FROM homes") == [(0,)]


def test_a_retried_event_is_a_duplicate(bot: InProcessBot, slack: Any, polytomic: Any) -> None:
    polytomic.add_sync(name="Orders").start_execution()
    response, payload = open_home(bot, "UADMIN")
    assert response.status_code == 200
    # Slack resends what it thinks was not acked: with X-Slack-Retry-Num (over HTTP; Socket Mode
    # as retry_attempt), or the very event again. Each is acked; none publishes again.
    assert post_event(bot, payload, retry=1).status_code == 200
    assert post_event(bot, payload, retry=2).status_code == 200
    assert post_event(bot, payload).status_code == 200
    assert len(slack.calls("views.publish")) == 1
    counted = bot.services.metrics.registry.get_sample_value
    assert counted("polytomic_bot_home_events_total", {"outcome": "retry"}) == 2
    # Opening it again is a new event, and publishes again; so does the retry of an event whose
    # first delivery never reached the bot (the viewer would otherwise see an old home).
    open_home(bot, "UADMIN")
    assert len(slack.calls("views.publish")) == 2
    open_home(bot, "UADMIN", retry=1)
    assert len(slack.calls("views.publish")) == 3


def test_a_viewer_without_permission_sees_no_cancel_button(
    bot: InProcessBot, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    for name in ("Orders", "Leads"):
        polytomic.add_sync(name=name).start_execution()
    cli_grant(sqlite_url, "UGRANTER", "admin", "*")
    open_home(bot, "UNOBODY")
    view = slack.home_view("UNOBODY")
    assert view is not None
    assert buttons(view, HOME_CANCEL_ACTION) == []
    text = mrkdwn(view)
    assert "You hold no permission yet" in text
    assert "<@UADMIN>" in text and "<@UGRANTER>" in text  # who can grant access
    assert "/polytomic grant" in text
    assert polytomic.requests == []  # the empty state reads nothing from Polytomic

    # Someone who may cancel one of them sees its button, and a count of the other.
    leads = next(s for s in polytomic.syncs if s.name == "Leads")
    cli_grant(sqlite_url, "UCAROL", "cancel", leads.id)
    open_home(bot, "UCAROL")
    carol = slack.home_view("UCAROL")
    assert [b["value"] for b in buttons(carol, HOME_CANCEL_ACTION)] == [
        home_cancel_value(leads.id, leads.current_execution.id)
    ]
    assert "1 running sync you may not cancel" in mrkdwn(carol)


def test_cancel_from_the_home_tab(bot: InProcessBot, slack: Any, polytomic: Any, sqlite_url: str) -> None:
    sync = polytomic.add_sync(name="Orders to Salesforce")
    execution = sync.start_execution(cancel_delay=0.2)
    cli_grant(sqlite_url, ALICE, "cancel", sync.id)
    open_home(bot, ALICE)
    [cancel] = buttons(slack.home_view(ALICE), HOME_CANCEL_ACTION)

    # The click carries a trigger_id, no channel and no response_url: the confirm is a modal.
    response = click(
        bot, home_block_actions_payload(user_id=ALICE, action_id=cancel["action_id"], value=cancel["value"])
    )
    assert response.status_code == 200
    [modal] = slack.modals()
    assert modal["view"]["callback_id"] == HOME_CANCEL_MODAL
    assert "Orders to Salesforce" in mrkdwn(modal["view"])
    assert polytomic.cancel_requests() == []  # nothing is sent before the confirm

    submit = view_submission_payload(
        user_id=ALICE, callback_id=HOME_CANCEL_MODAL, private_metadata=modal["view"]["private_metadata"]
    )
    answer = click(bot, submit)
    assert answer.status_code == 200
    said = answer.json()
    assert said["response_action"] == "update" and "Asked to cancel" in mrkdwn(said["view"])
    assert query_db(
        sqlite_url, "SELECT requested_by, channel_id, response_url, execution_id FROM operations"
    ) == [(ALICE, ALICE_DM, None, execution.id)]

    # The tracker runs it as any other confirm; the status message goes to Alice's DM.
    def canceled() -> bool:
        messages = slack.messages_in(ALICE_DM)
        return bool(messages) and "*canceled*" in (messages[0].text or "") + json.dumps(messages[0].latest)

    bot.wait_until(canceled, what="the status message in the DM saying canceled")
    assert polytomic.effective_cancels(sync.id) == 1
    [status] = slack.messages_in(ALICE_DM)

    # Her open home is republished once its 5 s have passed since it was published: the
    # operation is listed with its outcome and a link to its status message.
    assert republish(bot) == []  # published moments ago
    bot.advance(6)
    assert republish(bot) == [ALICE]
    assert republish(bot) == []  # nothing changed since
    home = slack.home_view(ALICE)
    text = mrkdwn(home)
    assert "Cancel *Orders to Salesforce*: *canceled after" in text
    assert buttons(home, HOME_CANCEL_ACTION) == []
    [link] = [b for b in buttons(home) if b.get("url")]
    assert link["url"] == f"https://fake-team.slack.com/archives/{ALICE_DM}/p{status.ts.replace('.', '')}"

    # A second submission of the same modal loses in the database: nothing more is sent.
    again = click(bot, submit).json()
    assert "already asked" in mrkdwn(again["view"])
    assert polytomic.effective_cancels(sync.id) == 1


def test_a_home_cancel_without_permission_is_told_in_the_dm(
    bot: InProcessBot, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    sync = polytomic.add_sync(name="Orders")
    execution = sync.start_execution()
    open_home(bot, "UNOBODY")
    # A stale (or forged) modal: the submission is decided again by the tracker.
    submit = view_submission_payload(
        user_id="UNOBODY",
        callback_id=HOME_CANCEL_MODAL,
        private_metadata=home_cancel_value(sync.id, execution.id),
    )
    assert click(bot, submit).status_code == 200

    def told() -> bool:
        return any("permission" in (m.text or "") for m in slack.messages_in("D0NOBODY"))

    bot.wait_until(told, what="the denial in the viewer's DM")
    assert polytomic.cancel_requests() == []
    assert query_db(sqlite_url, "SELECT state FROM operations") == [("denied",)]


def test_refresh_publishes_again(bot: InProcessBot, slack: Any, polytomic: Any) -> None:
    open_home(bot, "UADMIN")
    click(bot, home_block_actions_payload(user_id="UADMIN", action_id=HOME_REFRESH_ACTION, value="refresh"))
    assert len(slack.calls("views.publish")) == 2


def test_a_hundred_opens_cost_one_round_of_polytomic_reads(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    # Publishing unpaced, so that the test measures Polytomic's side, not Slack's Tier 4 pace.
    bot = start_bot(SLACK_VIEWS_INTERVAL="0")
    syncs = [polytomic.add_sync(name=f"Sync {n}") for n in range(40)]
    for sync in syncs[:5]:
        sync.start_execution()
    viewers = [f"UVIEWER{n:03d}" for n in range(100)]
    slack.add_usergroup("SONCALL", "oncall", viewers)
    cli_grant(sqlite_url, "SONCALL", "cancel", "*")
    polytomic.clear_requests()

    # All acked one after the other, the homes built meanwhile on their own lane.
    assert all(post_unawaited(bot, user_id).status_code == 200 for user_id in viewers)
    bot.services.responder.wait_idle(60)

    assert len(slack.calls("views.publish")) == 100
    assert all(len(buttons(slack.home_view(u), HOME_CANCEL_ACTION)) == 5 for u in viewers)
    pages = polytomic.requests_to("GET", r"^/api/syncs$")
    statuses = polytomic.requests_to("GET", r"^/api/syncs/[^/]+/status$")
    # One round: the list's pages once and each sync's status once (a cold cache is read once;
    # its 15 s cover the whole burst), however many people opened their homes.
    assert len(pages) == 1
    assert len(statuses) == len(syncs)
    assert len(polytomic.requests) == 1 + len(syncs)
    # Their group's members were asked of Slack a few times at most, not once a viewer.
    assert len(slack.calls("usergroups.users.list")) <= 4


def post_unawaited(bot: InProcessBot, user_id: str) -> httpx.Response:
    payload = app_home_opened(user_id=user_id, channel_id=f"D0{user_id[1:]}")
    body = json.dumps(payload)
    headers = sign(SIGNING_SECRET, body)
    headers["Content-Type"] = "application/json"
    return bot.post(body, headers=headers)


def test_polytomic_down_still_publishes_a_home_that_says_so(
    bot: InProcessBot, slack: Any, polytomic: Any
) -> None:
    polytomic.add_sync(name="Orders").start_execution()
    polytomic.inject("GET", r"^/api/syncs$", status=503, times=10)
    open_home(bot, "UADMIN")
    view = slack.home_view("UADMIN")
    assert view is not None
    text = mrkdwn(view)
    assert "I couldn't read the running syncs from Polytomic" in text
    assert "*Your last operations*" in text and "*Your permissions*" in text  # the rest is there
    assert buttons(view, HOME_CANCEL_ACTION) == []


def test_the_subscriptions_the_viewer_can_manage_and_their_starts(
    bot: InProcessBot, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    held = polytomic.add_sync(name="Orders to Salesforce")
    other = polytomic.add_sync(name="Finance export")
    cli_grant(sqlite_url, ALICE, "subscribe", held.id)
    db = Database(sqlite_url)
    try:
        for channel, scope, actor in (
            ("CSALES", Scope("sync", held.id, "Orders to Salesforce"), "UBOB"),  # on a sync she holds
            ("CMINE", Scope("sync", other.id, "Finance export"), ALICE),  # hers
            ("CFIN", Scope("sync", other.id, "Finance export"), "UBOB"),  # neither: not hers to manage
        ):
            subscriptions.subscribe(
                db, channel_id=channel, team_id=None, scope=scope, mode="failures", actor=actor
            )
        bot.services.operations.create(
            kind="start",
            sync_id=held.id,
            execution_id=None,
            team_id=None,
            requested_by=ALICE,
            channel_id="CSALES",
            response_url=None,
            incident_channel=None,
            poll_timeout=60,
        )
    finally:
        db.dispose()
    open_home(bot, ALICE)
    text = mrkdwn(slack.home_view(ALICE))
    section = text.split("*Subscriptions you can manage*")[1]
    assert "<#CSALES>" in section and "by <@UBOB>" in section
    assert "<#CMINE>" in section and "by you" in section
    assert "<#CFIN>" not in section
    assert "/polytomic unsubscribe" in section
    # A start among her operations (its name not read yet: its ID).
    assert f"Start `{held.id}`: *being checked*" in text


def test_a_stop_is_one_entry_among_the_last_operations(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    bot = start_bot(POLL_INTERVAL="0.2")
    connection = polytomic.add_connection("Salesforce prod")
    for n in range(3):
        sync = polytomic.add_sync(name=f"Orders {n}", target_connection_id=connection.id)
        sync.start_execution(cancel_delay=0.2)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    ack, url = admin.command("cancel running to Salesforce prod")
    assert ack.status_code == 200
    confirm = button(admin.answers(url)[0], "stop_confirm")
    admin.click("stop_confirm", confirm["value"])

    def stopped() -> Any:
        return next((m for m in status_messages(slack) if "Stopped 3 syncs" in m.latest["text"]), None)

    summary = bot.wait_until(stopped, 30, what="the stop's final summary")
    open_home(bot, "UADMIN")
    home = slack.home_view("UADMIN")
    text = mrkdwn(home).split("*Your last operations*")[1].split("*Your permissions*")[0]
    assert "Stopped 3 syncs to *Salesforce prod*: 3 canceled." in text
    assert "Cancel *Orders" not in text  # its operations are not listed one by one
    [link] = [b for b in buttons(home) if b.get("url")]
    assert link["text"]["text"] == "Summary"
    assert link["url"].endswith(f"/archives/{CHANNEL}/p{summary.ts.replace('.', '')}")
