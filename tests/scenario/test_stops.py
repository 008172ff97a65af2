"""Stops (issue 15): many syncs canceled, paused or resumed from one command, followed by one
summary message. The bot in this process, signed requests, the fake Slack and Polytomic, SQLite.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.harness import CHANNEL, INCIDENTS, SlackUser, all_text, button, query_db, status_messages
from tests.scenario.inprocess import InProcessBot, cli_grant, wait_until


@pytest.fixture
def stop_bot(start_bot: Any) -> InProcessBot:
    return start_bot(INCIDENT_CHANNEL=INCIDENTS, POLL_INTERVAL="0.2")


def _fleet(
    polytomic: FakePolytomic, count: int, *, cancel_delay: float = 0.2, name: str = "Salesforce prod"
) -> tuple[Any, list[Any]]:
    connection = polytomic.add_connection(name)
    syncs = [
        polytomic.add_sync(name=f"Orders {i:02d}", target_connection_id=connection.id) for i in range(count)
    ]
    for sync in syncs:
        sync.start_execution(cancel_delay=cancel_delay, rows_per_second=50)
    return connection, syncs


def _prompt(user: SlackUser, text: str) -> dict[str, Any]:
    ack, url = user.command(text)
    assert ack.status_code == 200
    return user.answers(url)[0]


def _summary(slack: FakeSlack, phrase: str, timeout: float = 30.0) -> Any:
    def found() -> Any:
        for message in status_messages(slack):
            if phrase in message.latest["text"]:
                return message
        return None

    return wait_until(found, timeout, what=f"a summary saying {phrase!r}")


def test_a_50_sync_stop_end_to_end(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    _connection, syncs = _fleet(polytomic, 50)
    idle = polytomic.add_sync(name="Idle one", target_connection_id=_connection.id)  # not running: left alone
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)

    prompt = _prompt(user, "cancel running to Salesforce prod")
    assert prompt["response_type"] == "ephemeral"
    shown = all_text(prompt)
    assert "Cancel 50 syncs running to *Salesforce prod*?" in shown
    assert "Orders 00" in shown and "Orders 19" in shown and "Orders 20" not in shown
    assert "…and 30 more" in shown and "Idle one" not in shown
    confirm = button(prompt, "stop_confirm")
    assert confirm["text"]["text"] == "Cancel 50 syncs" and "50 syncs" in confirm["confirm"]["title"]["text"]
    both = button(prompt, "stop_pause_confirm")  # UADMIN is a bot admin: may pause
    assert "50" in both["confirm"]["text"]["text"]
    assert button(prompt, "stop_dismiss")["text"]["text"] == "Keep running"
    assert len(confirm["value"]) <= 32  # the snapshot is a row; the button carries its ID

    click, click_url = user.click("stop_confirm", confirm["value"])
    assert click.status_code == 200
    again, again_url = user.click("stop_confirm", confirm["value"])  # a double click
    assert again.status_code == 200

    final = _summary(slack, "Stopped 50 syncs to Salesforce prod: 50 canceled.")
    # One summary message in the channel, nothing per sync; the prompt went away.
    [only] = status_messages(slack)
    assert only.ts == final.ts
    assert len(final.versions) <= 20
    assert "stop_abort" not in str(final.latest["blocks"])  # final: no Abort button
    wait_until(lambda: any(r.get("delete_original") for r in slack.responses(click_url)))
    assert "confirmed already" in all_text(user.answers(again_url)[0])
    # Each run canceled exactly once, by its execution ID, with an idempotency key.
    for sync in syncs:
        [cancel] = polytomic.cancel_requests(sync.id)
        assert cancel.path.endswith(f"/executions/{sync.last_execution.id}/cancel")
        assert {k.lower(): v for k, v in cancel.headers.items()}["idempotency-key"].startswith("op-")
    assert polytomic.cancel_requests(idle.id) == []
    # One notice and one outcome in the incident channel.
    [notice] = status_messages(slack, INCIDENTS)
    assert (
        notice.latest["text"]
        == f"<@UADMIN> requested cancellation of 50 syncs to Salesforce prod in <#{CHANNEL}>."
    )
    wait_until(lambda: slack.thread(INCIDENTS, notice.ts))
    [outcome] = slack.thread(INCIDENTS, notice.ts)
    assert outcome.latest["text"] == "Stopped 50 syncs to Salesforce prod: 50 canceled."
    # The database: one stop, 50 operations of it, all canceled.
    rows = query_db(stop_bot.settings.database_url, "SELECT state, count(*) FROM operations GROUP BY state")
    assert rows == [("canceled", 50)]
    assert query_db(stop_bot.settings.database_url, "SELECT count(*), size FROM stops") == [(1, 50)]


def test_mixed_permissions_leave_out_and_name(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str
) -> None:
    _connection, syncs = _fleet(polytomic, 6)
    for sync in syncs[:4]:
        cli_grant(sqlite_url, "UALICE", "cancel", sync.id)
    user = SlackUser(stop_bot, slack, "UALICE", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")
    shown = all_text(prompt)
    assert "Cancel 4 syncs running" in shown
    assert "Left out, 2 syncs" in shown and "Orders 04" in shown and "you may not cancel it" in shown
    with pytest.raises(AssertionError):
        button(prompt, "stop_pause_confirm")  # no `pause`: no cancel-and-pause button
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    _summary(slack, "Stopped 4 syncs to Salesforce prod: 4 canceled.")
    assert [len(polytomic.cancel_requests(s.id)) for s in syncs] == [1, 1, 1, 1, 0, 0]


def test_a_run_that_changed_and_one_that_completed_before_the_cancel(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    _connection, syncs = _fleet(polytomic, 4)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel all running")
    # After the prompt: one run ends and another starts (the run changed); one completes as
    # the cancel lands (Polytomic's outcome is `completed`).
    syncs[0].finish_current("completed")
    newer = syncs[0].start_execution(cancel_delay=0.2)
    syncs[1].finish_current("completed")
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    final = _summary(slack, "Stopped 4 syncs: 2 canceled")
    assert "2 not canceled: the run had changed or ended" in final.latest["text"]
    assert polytomic.cancel_requests(syncs[0].id) == []  # the newer run is left alone
    assert newer.status == "running"
    [reply] = wait_until(lambda: slack.thread(CHANNEL, final.ts))
    text = reply.latest["text"]
    assert "2 syncs did not go as asked" in text and "Orders 00" in text and "Orders 01" in text


def test_completes_before_the_cancel_lands(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    connection = polytomic.add_connection("HubSpot")
    fast = polytomic.add_sync(name="Fast", target_connection_id=connection.id)
    fast.start_execution(cancel_delay=0.2, cancel_outcome="completed")
    slow = polytomic.add_sync(name="Slow", target_connection_id=connection.id)
    slow.start_execution(cancel_delay=0.2)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to HubSpot")
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    final = _summary(slack, "Stopped 2 syncs to HubSpot:")
    assert (
        final.latest["text"]
        == "Stopped 2 syncs to HubSpot: 1 canceled, 1 completed before the cancel landed.\n"
        "Requested by <@UADMIN>."
    )


def test_polytomic_answering_5xx_and_429(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    _connection, syncs = _fleet(polytomic, 10)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")
    polytomic.inject("POST", r"/cancel$", status=503, times=3)
    polytomic.inject("POST", r"/cancel$", status=429, times=3, retry_after=1)
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    _summary(slack, "Stopped 10 syncs to Salesforce prod: 10 canceled.", timeout=60)
    for sync in syncs:
        answered = [r for r in polytomic.cancel_requests(sync.id) if r.status == 200]
        assert len(answered) == 1  # retried until taken, acted on once


def test_cancel_and_pause_then_resume_restores_exactly_the_paused_set(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    _connection, syncs = _fleet(polytomic, 5)
    syncs[4].set_active(False)  # already paused before the stop: must stay paused
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")
    user.click("stop_pause_confirm", button(prompt, "stop_pause_confirm")["value"])
    final = _summary(slack, "Stopped 5 syncs to Salesforce prod: 5 canceled")
    assert "4 paused, 1 already paused (left as they were)" in final.latest["text"]
    assert [s.active for s in syncs] == [False] * 5
    # Pause first, then cancel, for every sync.
    for sync in syncs[:4]:
        paths = [
            r.path for r in polytomic.requests if sync.id in r.path and r.method in ("PUT", "POST", "PATCH")
        ]
        assert "activate" in paths[0] and paths[-1].endswith("/cancel"), paths
    resume = button(final.latest, "stop_resume")
    assert resume["text"]["text"] == "Resume the 4 schedules" and "4" in resume["confirm"]["title"]["text"]
    user.click("stop_resume", resume["value"])
    user.click("stop_resume", resume["value"])  # a second click does nothing
    wait_until(lambda: all(s.active for s in syncs[:4]), what="the 4 schedules resumed")
    assert syncs[4].active is False
    activations = [r for r in polytomic.requests if r.path.endswith("/activate") and r.status == 200]
    assert len(activations) == 4 + 4  # four pauses, four resumes: none twice, none of the fifth
    done = _summary(slack, "4 resumed")
    assert "stop_resume" not in str(done.latest["blocks"])
    audit = query_db(
        stop_bot.settings.database_url, "SELECT count(*) FROM audit_events WHERE action = 'resume'"
    )
    assert audit == [(4,)]


def test_pause_covers_every_active_sync_and_resume_puts_back_only_what_it_paused(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    connection = polytomic.add_connection("Braze")
    running = polytomic.add_sync(name="Running one", target_connection_id=connection.id)
    execution = running.start_execution(cancel_delay=0.2)
    idle = polytomic.add_sync(name="Idle one", target_connection_id=connection.id)
    paused = polytomic.add_sync(name="Paused one", target_connection_id=connection.id, active=False)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)

    prompt = _prompt(user, "pause to Braze")
    shown = all_text(prompt)
    assert "Pause the schedules of 2 syncs to *Braze*?" in shown and "Paused one" not in shown
    assert button(prompt, "stop_confirm")["text"]["text"] == "Pause 2 schedules"
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    _summary(slack, "Paused the schedules of 2 syncs to Braze: 2 paused.")
    assert running.active is False and idle.active is False and paused.active is False
    assert execution.status == "running" and polytomic.cancel_requests() == []  # runs go on

    # `resume` finds only the schedules the bot paused: never the one paused before.
    prompt = _prompt(user, "resume to Braze")
    shown = all_text(prompt)
    assert "Resume the schedules of 2 syncs to *Braze*" in shown and "Paused one" not in shown
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    _summary(slack, "Resumed the schedules of 2 syncs to Braze: 2 resumed.")
    assert running.active is True and idle.active is True and paused.active is False
    # What the first stop paused is resumed now: a second resume finds nothing.
    nothing = _prompt(user, "resume to Braze")
    assert "nothing to resume" in all_text(nothing)


def test_abort_the_rest_stops_further_pauses(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    connection = polytomic.add_connection("Iterable")
    syncs = [polytomic.add_sync(name=f"Sync {i:02d}", target_connection_id=connection.id) for i in range(40)]
    polytomic.set_latency(0.05, r"/activate$")
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "pause to Iterable")
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    first = _summary(slack, "Pausing the schedules of 40 syncs to Iterable")
    abort = button(first.latest, "stop_abort")
    assert "Abort the rest" in abort["confirm"]["title"]["text"]
    user.click("stop_abort", abort["value"])
    final = _summary(slack, "Paused the schedules of 40 syncs to Iterable:")
    assert "aborted by <@UADMIN>" in all_text(final.latest)
    paused = [s for s in syncs if s.active is False]
    assert 0 < len(paused) < 40  # what was sent stays; nothing more went
    rows = query_db(
        stop_bot.settings.database_url, "SELECT count(*) FROM stop_syncs WHERE paused_at IS NOT NULL"
    )
    assert rows == [(len(paused),)]
    resume = button(final.latest, "stop_resume")
    assert resume["text"]["text"] == f"Resume the {len(paused)} schedules"


def test_an_expired_prompt_asks_again(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    _connection, _syncs = _fleet(polytomic, 2)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")
    stop_bot.advance(601)
    _click, url = user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    [expired, fresh] = user.answers(url, count=2)
    assert "10 minutes old" in all_text(expired)
    assert "Cancel 2 syncs running" in all_text(fresh)
    assert button(fresh, "stop_confirm")["value"] != button(prompt, "stop_confirm")["value"]
    assert polytomic.cancel_requests() == [] and status_messages(slack) == []


def test_too_many_says_so(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic, monkeypatch: Any
) -> None:
    from bot.answers import stops as answers

    monkeypatch.setattr(answers, "MAX_STOP", 3)
    _connection, _syncs = _fleet(polytomic, 4)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")
    assert "one cancel holds at most 3" in all_text(prompt)
    assert "stop_confirm" not in str(prompt.get("blocks"))


def test_abort_the_rest_stops_further_cancels(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    _connection, syncs = _fleet(polytomic, 40)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    first = _summary(slack, "Stopping 40 syncs to Salesforce prod")  # one pass: 16 taken up
    user.click("stop_abort", button(first.latest, "stop_abort")["value"])
    final = _summary(slack, "Stopped 40 syncs to Salesforce prod:")
    sent = sum(len(polytomic.cancel_requests(s.id)) for s in syncs)
    assert 0 < sent < 40
    assert f"{40 - sent} not sent (aborted)" in final.latest["text"]
    rows = query_db(stop_bot.settings.database_url, "SELECT count(*) FROM operations WHERE state = 'denied'")
    assert rows == [(40 - sent,)]


def test_two_replicas_on_postgresql_stop_once(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, postgres_url: str
) -> None:
    """Two bots on one PostgreSQL database (replicas): the confirm is replayed to the second, and
    both trackers take the stop's rows; every cancel, the summary and the incident posts once."""
    first = start_bot(database_url=postgres_url, INCIDENT_CHANNEL=INCIDENTS, POLL_INTERVAL="0.2")
    second = start_bot(database_url=postgres_url, INCIDENT_CHANNEL=INCIDENTS, POLL_INTERVAL="0.2")
    _connection, syncs = _fleet(polytomic, 30)
    prompt = _prompt(SlackUser(first, slack, "UADMIN", CHANNEL), "cancel running to Salesforce prod")
    value = button(prompt, "stop_pause_confirm")["value"]
    SlackUser(first, slack, "UADMIN", CHANNEL).click("stop_pause_confirm", value)
    _replay, replay_url = SlackUser(second, slack, "UADMIN", CHANNEL).click("stop_pause_confirm", value)
    _summary(slack, "Stopped 30 syncs to Salesforce prod: 30 canceled", timeout=60)
    assert "confirmed already" in all_text(SlackUser(second, slack, "UADMIN", CHANNEL).answers(replay_url)[0])
    assert len(status_messages(slack)) == 1
    [notice] = status_messages(slack, INCIDENTS)
    wait_until(lambda: slack.thread(INCIDENTS, notice.ts))
    assert len(slack.thread(INCIDENTS, notice.ts)) == 1
    for sync in syncs:
        assert polytomic.effective_cancels(sync.id) == 1
        pauses = [r for r in polytomic.requests if r.path.endswith(f"{sync.id}/activate") and r.effective]
        assert len(pauses) == 1
    assert query_db(postgres_url, "SELECT count(*) FROM stops") == [(1,)]
    assert query_db(postgres_url, "SELECT count(*) FROM operations") == [(30,)]


def test_single_cancel_and_pause_leaves_an_already_paused_schedule_alone(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    """Single-sync Resume follows the stops' rule: only a schedule the bot paused is offered."""
    sync = polytomic.add_sync(name="Paused by hand", active=False)
    sync.start_execution(cancel_delay=0.2)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, f"cancel {sync.id}")
    user.click("cancel_pause_confirm", button(prompt, "cancel_pause_confirm")["value"])
    message = _summary(slack, "canceled")
    text = all_text(message.latest)
    wait_until(lambda: "already paused" in all_text(slack.message(CHANNEL, message.ts).latest))
    latest = slack.message(CHANNEL, message.ts).latest
    assert "The schedule was already paused: left as it was." in all_text(latest), text
    assert "resume_schedule" not in str(latest["blocks"])
    assert [r for r in polytomic.requests if r.path.endswith("/activate")] == []
    assert sync.active is False


def test_a_long_stop_edits_its_summary_less_often(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    connection = polytomic.add_connection("Slow CRM")
    syncs = [polytomic.add_sync(name=f"Slow {i}", target_connection_id=connection.id) for i in range(3)]
    for sync in syncs:
        sync.start_execution(cancel_delay=None)  # canceling until the test ends it
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Slow CRM")
    user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    summary = _summary(slack, "Stopping 3 syncs to Slow CRM: 3 canceling.")
    stop_bot.advance(80)  # 80 s into the stop: edits at most every 10 s now
    syncs[0].finish_current("canceled")
    _summary(slack, "1 canceled, 2 canceling")
    versions = len(slack.message(CHANNEL, summary.ts).versions)
    syncs[1].finish_current("canceled")
    stop_bot.advance(5)
    stop_bot.advance(1)
    assert len(slack.message(CHANNEL, summary.ts).versions) == versions  # not yet: 10 s apart
    stop_bot.advance(5)
    _summary(slack, "2 canceled, 1 canceling")
    syncs[2].finish_current("canceled")
    _summary(slack, "Stopped 3 syncs to Slow CRM: 3 canceled.")  # the final edit is not held back


def test_a_confirm_whose_commit_gets_no_answer_is_told_so(
    stop_bot: InProcessBot, slack: FakeSlack, polytomic: FakePolytomic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database takes the stop's confirm but its COMMIT gets no answer (the fault that
    tests/integration/test_database_bounds.py makes with a held PostgreSQL): the click is acked
    and the clicker told that it may or may not be recorded, never that nothing changed."""
    from bot.db.bounds import OutcomeUnknown

    _connection, syncs = _fleet(polytomic, 3)
    user = SlackUser(stop_bot, slack, "UADMIN", CHANNEL)
    prompt = _prompt(user, "cancel running to Salesforce prod")

    def silent_commit(*args: Any, **kwargs: Any) -> Any:
        raise OutcomeUnknown("the database did not answer the COMMIT")

    monkeypatch.setattr(stop_bot.services.stops, "confirm", silent_commit)
    click, url = user.click("stop_confirm", button(prompt, "stop_confirm")["value"])
    assert click.status_code == 200
    said = all_text(user.answers(url)[0])
    assert "can't tell whether that was recorded" in said and "/polytomic list" in said
    assert "nothing was changed" not in said.lower()
    assert all(polytomic.cancel_requests(s.id) == [] for s in syncs)
