"""One confirm, one cancel: however many times the button is pressed, and by whom.

A double click, two permitted people clicking at the same moment, and a replayed request
each give Polytomic exactly one cancel and the channel exactly one status message; the
database decides who wins (the concurrent race runs on SQLite and on PostgreSQL). A click
forged by someone without the permission cancels nothing and is denied, audited, and named.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.fakes.polytomic import FakeExecution, FakePolytomic, FakeSync
from bot.fakes.signing import block_actions_body, sign
from bot.fakes.slack import FakeSlack
from tests.harness import SIGNING_SECRET, SlackUser, all_text, button, query_db
from tests.scenario.inprocess import InProcessBot, cli_grant, settle, wait_until

SETTLE = 1.0
RELEASED = ("denied", "stale", "rejected", "duplicate")


# ---- helpers ---------------------------------------------------------------------------


def operations(database_url: str) -> list[tuple[str, str, str]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in query_db(
            database_url, "SELECT requested_by, state, execution_id FROM operations ORDER BY id"
        )
    ]


def is_already_requested(answer: dict[str, Any]) -> bool:
    return "already requested" in all_text(answer)


@dataclass
class Scene:
    bot: InProcessBot
    slack: FakeSlack
    polytomic: FakePolytomic
    database_url: str


def new_scene(start_bot, slack: FakeSlack, polytomic: FakePolytomic, database_url: str) -> Scene:
    bot = start_bot(database_url=database_url, INCIDENT_CHANNEL="CINCIDENT")
    return Scene(bot, slack, polytomic, database_url)


def running_sync(scene: Scene, name: str) -> tuple[FakeSync, FakeExecution]:
    sync = scene.polytomic.add_sync(name=name)
    # Long enough in `canceling` that late clicks land while the cancel is in flight.
    return sync, sync.start_execution(cancel_delay=0.8, rows_per_second=50)


def prompt_value(user: SlackUser, sync: FakeSync) -> str:
    """Run /polytomic cancel as `user` and return the value of the Cancel button they get."""
    ack, url = user.command(f"cancel {sync.id}")
    assert ack.status_code == 200
    return str(button(user.answers(url)[0], "cancel_confirm")["value"])


def click_body(user_id: str, value: str, response_url: str) -> bytes:
    return block_actions_body(
        user_id=user_id,
        action_id="cancel_confirm",
        value=value,
        channel_id="CGENERAL",
        response_url=response_url,
    )


def at_once(bot: InProcessBot, bodies: list[bytes]) -> list[Any]:
    """POST every body from its own thread, released together by a barrier so that the
    requests are in flight at the same time; returns each response (or the exception)."""
    barrier = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)

    def send(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = bot.post(bodies[i])
        except BaseException as error:  # reported by the caller, in the test's thread
            results[i] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return results


def top_level(slack: FakeSlack, channel: str, sync: FakeSync) -> list[Any]:
    return [m for m in slack.messages_in(channel) if not m.is_reply and sync.id in all_text(m.latest)]


def wait_canceled(scene: Scene, sync: FakeSync) -> None:
    """The run ended canceled, the channel says so, and every effect of the row was delivered."""
    wait_until(
        lambda: any(": canceled after " in m.text for m in top_level(scene.slack, "CGENERAL", sync)),
        15,
        what=f"the status message of {sync.id} to say canceled",
    )
    wait_until(
        lambda: (
            query_db(
                scene.database_url,
                "SELECT count(*) FROM operations WHERE sync_id = :s AND state = 'canceled' "
                "AND finished_at IS NOT NULL",
                {"s": sync.id},
            )
            == [(1,)]
        ),
        15,
        what="the operation to be finished",
    )


def assert_exactly_once(scene: Scene, sync: FakeSync, execution: FakeExecution, winner: str) -> None:
    """One cancel, one channel status message, one incident notice (with one outcome reply),
    one live operation row, requested by `winner`. Call after the settle time."""
    slack, polytomic = scene.slack, scene.polytomic
    cancels = polytomic.cancel_requests(sync.id)
    assert len(cancels) == 1, [f"{r.method} {r.path}" for r in cancels]
    assert polytomic.effective_cancels(sync.id) == 1
    assert cancels[0].segments[3:5] == ["executions", execution.id]  # by execution ID
    assert execution.status == "canceled"

    status = top_level(slack, "CGENERAL", sync)
    assert len(status) == 1, [m.text for m in status]
    assert f"<@{winner}>" in all_text(status[0].latest)
    assert "*canceled*" in all_text(status[0].latest)
    notices = top_level(slack, "CINCIDENT", sync)
    assert len(notices) == 1, [m.text for m in notices]
    replies = slack.thread("CINCIDENT", notices[0].ts)
    assert len(replies) == 1 and ": canceled after " in replies[0].text, [m.text for m in replies]

    rows = [r for r in operations(scene.database_url) if r[2] == execution.id]
    live = [r for r in rows if r[1] not in RELEASED]
    assert live == [(winner, "canceled", execution.id)], rows
    # A losing click either never made a row (it saw the holder at once) or lost the race to
    # take the run and was closed as a duplicate, having sent nothing.
    assert {r[1] for r in rows if r not in live} <= {"duplicate"}, rows


# ---- double click, replay, two people at once -----------------------------------------


def test_double_click_cancels_once(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str
) -> None:
    scene = new_scene(start_bot, slack, polytomic, sqlite_url)
    sync, execution = running_sync(scene, "Orders to HubSpot")
    admin = SlackUser(scene.bot, slack, "UADMIN", "CGENERAL")
    value = prompt_value(admin, sync)

    first, first_url = admin.click("cancel_confirm", value)
    second, second_url = admin.click("cancel_confirm", value)  # straight after: a double click
    assert (first.status_code, second.status_code) == (200, 200)

    loser = admin.answers(second_url)
    wait_canceled(scene, sync)
    settle(SETTLE)
    assert_exactly_once(scene, sync, execution, "UADMIN")
    assert len(loser) == 1 and is_already_requested(loser[0]), loser
    assert "<@UADMIN>" in all_text(loser[0])
    winner = slack.responses(first_url)
    assert [a["delete_original"] for a in winner] == [True]  # the prompt went away, nothing else


def test_replayed_request_cancels_once(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str
) -> None:
    scene = new_scene(start_bot, slack, polytomic, sqlite_url)
    sync, execution = running_sync(scene, "Orders to HubSpot")
    admin = SlackUser(scene.bot, slack, "UADMIN", "CGENERAL")
    value = prompt_value(admin, sync)
    url = slack.response_url("replayed click")
    body = click_body("UADMIN", value, url)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}

    def replay() -> httpx.Response:  # the exact same bytes and headers, every time
        return scene.bot.post(body, headers=headers)

    assert replay().status_code == 200
    assert replay().status_code == 200
    wait_canceled(scene, sync)
    # Replayed again once it is all over (still inside the 5-minute signature window).
    assert replay().status_code == 200
    wait_until(lambda: sum(map(is_already_requested, slack.responses(url))) == 2, what="two refusals")
    settle(SETTLE)
    assert_exactly_once(scene, sync, execution, "UADMIN")
    answers = slack.responses(url)
    assert sum(map(is_already_requested, answers)) == 2, answers
    assert sum(1 for a in answers if a["delete_original"]) == 1, answers
    assert len(answers) == 3, answers


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_permitted_users_clicking_at_once_cancel_once(
    backend: str,
    request: pytest.FixtureRequest,
    start_bot,
    slack: FakeSlack,
    polytomic: FakePolytomic,
    sqlite_url: str,
) -> None:
    database_url = sqlite_url if backend == "sqlite" else request.getfixturevalue("postgres_url")
    cli_grant(database_url, "UPERMIT2", "cancel", "*")
    scene = new_scene(start_bot, slack, polytomic, database_url)
    people = [
        SlackUser(scene.bot, slack, "UADMIN", "CGENERAL"),
        SlackUser(scene.bot, slack, "UPERMIT2", "CGENERAL"),
    ]

    # Three races, each on its own sync: more chances for the two requests to truly overlap.
    races = []
    for n in range(3):
        sync, execution = running_sync(scene, f"Race {n}")
        values = [prompt_value(person, sync) for person in people]  # each saw their own prompt
        assert values[0] == values[1]
        urls = [slack.response_url(f"{person.user_id} race {n}") for person in people]
        bodies = [click_body(p.user_id, values[0], u) for p, u in zip(people, urls, strict=True)]
        acks = at_once(scene.bot, bodies)
        assert [getattr(a, "status_code", a) for a in acks] == [200, 200]
        races.append((sync, execution, urls))

    for sync, _, urls in races:
        wait_until(
            lambda urls=urls: any(is_already_requested(a) for u in urls for a in slack.responses(u)),
            what="the losing click's answer",
        )
        wait_canceled(scene, sync)
    settle(SETTLE)
    for sync, execution, urls in races:
        refused = [i for i, u in enumerate(urls) if any(map(is_already_requested, slack.responses(u)))]
        assert len(refused) == 1, [slack.responses(u) for u in urls]
        loser, winner = refused[0], 1 - refused[0]
        assert_exactly_once(scene, sync, execution, people[winner].user_id)
        assert [is_already_requested(a) for a in slack.responses(urls[loser])] == [True]
        assert f"<@{people[winner].user_id}>" in all_text(slack.responses(urls[loser])[0])
        assert [a["delete_original"] for a in slack.responses(urls[winner])] == [True]


# ---- a click by someone who may not ----------------------------------------------------


def test_forged_click_by_a_user_without_permission_is_denied(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str
) -> None:
    scene = new_scene(start_bot, slack, polytomic, sqlite_url)
    sync, execution = running_sync(scene, "Orders to HubSpot")
    admin = SlackUser(scene.bot, slack, "UADMIN", "CGENERAL")
    value = prompt_value(admin, sync)  # a real button value, copied by someone else
    intruder = SlackUser(scene.bot, slack, "UNOPE01", "CGENERAL")
    assert json.loads(value) == {"s": sync.id, "e": execution.id}

    click, url = intruder.click("cancel_confirm", value)
    assert click.status_code == 200
    denial = intruder.answers(url)
    settle(SETTLE)
    assert len(denial) == 1, denial
    said = all_text(denial[0])
    assert "permission" in said and "`cancel`" in said, said
    assert "<@UADMIN>" in said, said  # who can grant it
    assert polytomic.cancel_requests(sync.id) == []
    assert execution.is_active and not execution.cancel_requested
    assert slack.messages_in("CGENERAL") == [] and slack.messages_in("CINCIDENT") == []
    assert slack.call_count("chat.postMessage") == 0
    audit = query_db(
        sqlite_url,
        "SELECT action, decision, sync_id FROM audit_events WHERE actor = :a",
        {"a": "UNOPE01"},
    )
    assert ("cancel.confirm", "denied", sync.id) in audit, audit
    assert all(decision != "allowed" for _, decision, _ in audit), audit
    assert operations(sqlite_url) == [("UNOPE01", "denied", execution.id)]

    # The denied click held nothing: the admin's own click still cancels, once.
    ok, _ = admin.click("cancel_confirm", value)
    assert ok.status_code == 200
    wait_canceled(scene, sync)
    settle(SETTLE)
    assert len(polytomic.cancel_requests(sync.id)) == 1
    assert len(top_level(slack, "CGENERAL", sync)) == 1
    assert intruder.answers(url) == denial  # nothing more told to the intruder


def test_an_unauthorized_click_does_not_lock_out_a_permitted_one(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str
) -> None:
    # A group grant makes the tracker ask Slack whether the clicker is in the group...
    cli_grant(sqlite_url, "S0ONCALL", "cancel", "*")
    scene = new_scene(start_bot, slack, polytomic, sqlite_url)
    slack.add_usergroup("S0ONCALL", "oncall", ["UPERMIT2"])
    slack.set_latency("usergroups.users.list", 2.5)  # ...and Slack is slow to answer.
    sync, execution = running_sync(scene, "Orders to HubSpot")
    admin = SlackUser(scene.bot, slack, "UADMIN", "CGENERAL")
    value = prompt_value(admin, sync)

    intruder = SlackUser(scene.bot, slack, "UNOPE01", "CGENERAL")
    forged, intruder_url = intruder.click("cancel_confirm", value)
    assert forged.status_code == 200
    real, admin_url = admin.click("cancel_confirm", value)  # while the intruder is being checked
    assert real.status_code == 200
    intruder.answers(intruder_url)  # the intruder is denied in the end
    assert ("UNOPE01", "denied", execution.id) in operations(sqlite_url)
    admin.answers(admin_url)
    settle(SETTLE)
    assert len(polytomic.cancel_requests(sync.id)) == 1  # the admin confirmed: the run is canceled
    assert not any(map(is_already_requested, slack.responses(admin_url))), slack.responses(admin_url)
