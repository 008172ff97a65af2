"""Faults (issue 4, requirements 3 and 4): Polytomic, Slack and the database fail under a
whole cancellation, and the bot still finishes it, reports it once and never cancels twice.

Every test drives the bot (in this process, production's wiring) through a complete cancellation
and then checks what a person and Polytomic saw: the final channel message, the incident
posts (a notice and its thread), the cancel requests Polytomic received and how many acted
(retries carry one Idempotency-Key, so at most one acts) and duplicates (expected: none).
It waits for the operation row's `finished_at` before counting: from then on the tracker
never touches it again, so the counts are final without sleeping.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack, Message
from tests.harness import (
    BOT_TOKEN,
    CANCELED,
    CHANNEL,
    INCIDENTS,
    Rows,
    SlackUser,
    all_text,
    assert_canceled_once,
    button,
    confirm,
    exec_path,
    incident_thread,
    polls,
    sqlite_rows,
    status_messages,
    the_status_message,
)
from tests.scenario.inprocess import final_text, wait_until

# ---- helpers ------------------------------------------------------------------------------


def wait_finished(rows: Rows, timeout: float = 20.0) -> None:
    """Until every operation has delivered its final state (finished_at set)."""

    def finished() -> bool:
        counts = rows("SELECT count(*), count(finished_at) FROM operations")[0]
        return counts[0] >= 1 and counts[0] == counts[1]

    wait_until(finished, timeout, 0.05, "the operation to finish")


def assert_waited(calls: list[Any], retry_after: float, what: str) -> int:
    """After every 429 in `calls` (time-ordered, same method/gate), the next call came no
    sooner than Retry-After. Returns how many 429s there were."""
    limited = 0
    for earlier, later in itertools.pairwise(calls):
        if earlier.status == 429:
            limited += 1
            gap = later.time - earlier.time
            assert gap >= retry_after - 0.01, (
                f"{what}: next call {gap:.3f} s after a 429 (Retry-After {retry_after})"
            )
    if calls and calls[-1].status == 429:
        raise AssertionError(f"{what}: the last call was a 429 and nothing followed it")
    return limited


def start(start_bot: Any, **env: str) -> Any:
    return start_bot(INCIDENT_CHANNEL=INCIDENTS, **env)


def admin(bot: Any, slack: FakeSlack) -> SlackUser:
    return SlackUser(bot, slack, "UADMIN", CHANNEL)


# ---- Polytomic --------------------------------------------------------------------------


def test_polytomic_5xx_on_cancel_post(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Cancel 5xx")
    execution = sync.start_execution(cancel_delay=0.3)
    polytomic.inject("POST", rf"/executions/{execution.id}/cancel$", status=503, times=3)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    assert_canceled_once(slack, polytomic, sync, "Cancel 5xx", cancel_requests=4)
    statuses = [r.status for r in polytomic.cancel_requests(sync.id)]
    assert statuses == [503, 503, 503, 200]


def test_polytomic_5xx_on_polls(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Poll 5xx")
    execution = sync.start_execution(cancel_delay=0.3)
    polytomic.inject(
        "GET",
        exec_path(sync, execution),
        status=502,
        times=2,
        body="<html>Bad Gateway</html>",
        content_type="text/html",
    )
    polytomic.inject("GET", exec_path(sync, execution), status=500, times=2)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    assert_canceled_once(slack, polytomic, sync, "Poll 5xx")
    statuses = [r.status for r in polls(polytomic, sync, execution)]
    assert statuses[:4] == [502, 502, 500, 500] and statuses[-1] == 200, statuses
    # Nobody saw Polytomic's error page.
    assert "Bad Gateway" not in all_text(the_status_message(slack).latest)


def test_polytomic_connection_resets(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Flaky network")
    execution = sync.start_execution(cancel_delay=0.3)
    polytomic.fail_connection(rf"/executions/{execution.id}/cancel$", times=2, method="POST")
    polytomic.fail_connection(exec_path(sync, execution), times=3, method="GET")
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    assert_canceled_once(slack, polytomic, sync, "Flaky network", cancel_requests=3)
    assert [r.status for r in polytomic.cancel_requests(sync.id)] == [None, None, 200]
    dropped = [r for r in polls(polytomic, sync, execution) if r.fault]
    assert len(dropped) == 3 and all(r.status is None for r in dropped)


@pytest.mark.parametrize(
    "times",
    [
        pytest.param(1, id="client-retry"),
        pytest.param(2, id="tracker-retry"),
    ],
)
def test_polytomic_429_on_polls(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path, times: int
) -> None:
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Rate-limited polls")
    execution = sync.start_execution(cancel_delay=0.3)
    polytomic.inject("GET", exec_path(sync, execution), status=429, retry_after=1, times=times)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    assert_canceled_once(slack, polytomic, sync, "Rate-limited polls")
    shown = all_text(the_status_message(slack).latest).lower()
    shown = shown.replace(sync.id.lower(), "").replace(execution.id.lower(), "")  # a UUID may hold "429"
    assert "rate limit" not in shown and "429" not in shown
    assert assert_waited(polls(polytomic, sync, execution), 1.0, "polls") == times


@pytest.mark.parametrize("name", ["Named later", ""], ids=["named", "nameless"])
def test_sync_named_once_polytomic_answers_again(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path, name: str
) -> None:
    """Polytomic answers 500 to the click's verification and to the next reads of the sync:
    the cancel goes by execution ID and the first posts show the sync's ID. Once Polytomic
    answers, the next edits of the status message and of the incident notice name the sync.
    The name is read once (a sync without one is not asked again, and nothing is edited for
    it); the failed reads of it do not disturb the cancel."""
    bot = start(start_bot)
    sync = polytomic.add_sync(name=name)
    execution = sync.start_execution(cancel_delay=None)  # stays canceling until finish()
    user = admin(bot, slack)
    _ack, url = user.command(f"cancel {sync.id}")
    prompt = user.answers(url)[0]
    sync_path = rf"^/api/syncs/{sync.id}$"
    before = len(polytomic.requests_to("GET", sync_path))
    # The tracker's client tries each read twice: the verification fails for sure, and the
    # first reads of the name after it fail too.
    polytomic.inject("GET", rf"^/api/syncs/{sync.id}/status$", status=500, times=2)
    polytomic.inject("GET", sync_path, status=500, times=6)
    user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])

    def reads() -> list[int | None]:
        return [r.status for r in polytomic.requests_to("GET", sync_path)[before:]]

    wait_until(lambda: execution.status == "canceling", what="the cancel, sent by execution ID")
    wait_until(lambda: 200 in reads(), what="a read of the sync that Polytomic answers")
    shown = name or sync.id
    wait_until(lambda: shown in the_status_message(slack).latest["text"], what="the status message")
    wait_until(lambda: shown in status_messages(slack, INCIDENTS)[0].latest["text"], what="the notice")
    if name:
        wait_until(lambda: name in all_text(the_status_message(slack).latest), what="the message naming it")
        wait_until(lambda: name in all_text(status_messages(slack, INCIDENTS)[0].latest), what="the notice")
    assert reads().count(200) == 1 and 500 in reads(), reads()
    # More polls, and no more reads of the sync: the name is known (or known to be missing).
    seen, read = len(polls(polytomic, sync, execution)), len(reads())
    wait_until(lambda: len(polls(polytomic, sync, execution)) >= seen + 5, what="more polls")
    assert len(reads()) == read

    execution.finish("canceled")
    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    message = assert_canceled_once(slack, polytomic, sync, shown)
    headline = message.versions[0]["blocks"][0]["text"]["text"]
    assert f"of `{sync.id}`:" in headline, headline  # first shown by its ID
    notice, thread = incident_thread(slack)
    if name:
        assert len(notice.versions) == 2, [all_text(v) for v in notice.versions]  # posted, then named
        assert f"*{name}*" not in all_text(notice.versions[0])
        assert f"*{name}*" in all_text(notice.latest) and name in notice.latest["text"]
        assert f"*{name}*" in all_text(thread[-1].latest)
    else:
        assert len(notice.versions) == 1  # nothing changed: not edited
        assert [c.params["channel"] for c in slack.calls("chat.update")] == [CHANNEL] * len(
            slack.calls("chat.update")
        )
    assert sqlite_rows(tmp_path)("SELECT sync_name FROM operations") == [(name,)]


@pytest.mark.parametrize(
    "times",
    [
        pytest.param(1, id="client-retry"),
        pytest.param(2, id="tracker-retry"),
    ],
)
def test_polytomic_429_on_cancel_post(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path, times: int
) -> None:
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Rate-limited cancel")
    execution = sync.start_execution(cancel_delay=0.3)
    polytomic.inject("POST", rf"/executions/{execution.id}/cancel$", status=429, retry_after=1, times=times)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    assert_canceled_once(slack, polytomic, sync, "Rate-limited cancel", cancel_requests=times + 1)
    assert assert_waited(polytomic.cancel_requests(sync.id), 1.0, "cancel POSTs") == times


# ---- Slack --------------------------------------------------------------------------------


def test_slack_429_on_chat_update(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Busy update")
    sync.start_execution(cancel_delay=0.3)
    slack.inject_rate_limit("chat.update", retry_after=1, times=2)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    message = assert_canceled_once(slack, polytomic, sync, "Busy update")
    updates = slack.calls("chat.update")
    assert [c.status for c in updates] == [429, 429, 200]
    assert assert_waited(updates, 1.0, "chat.update") == 2
    assert len(message.versions) == 2  # the first post, then the final state: not dropped


def test_slack_429_on_chat_post_message(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """The first status post and the first incident post are rate-limited (per channel)."""
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Busy post")
    sync.start_execution(cancel_delay=0.3)
    slack.inject_rate_limit("chat.postMessage", retry_after=1, times=1, channel=CHANNEL)
    slack.inject_rate_limit("chat.postMessage", retry_after=2, times=1, channel=INCIDENTS)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    message = assert_canceled_once(slack, polytomic, sync, "Busy post")
    posts = slack.calls("chat.postMessage")
    for channel, retry_after in ((CHANNEL, 1.0), (INCIDENTS, 2.0)):
        mine = [c for c in posts if c.params.get("channel") == channel]
        assert mine[0].status == 429, [c.status for c in mine]
        assert assert_waited(mine, retry_after, f"chat.postMessage to {channel}") == 1
    assert len([c for c in posts if c.params.get("channel") == CHANNEL]) == 2
    assert len([c for c in posts if c.params.get("channel") == INCIDENTS]) == 3  # 429, notice, outcome
    # Whatever it showed first, it ends on the outcome; no rate limit reaches anyone.
    assert "rate limit" not in all_text(message.latest).lower()


def test_slack_message_not_found(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """Someone deletes the status message while the run is canceling: the next edit gets
    message_not_found, the bot posts a fresh message with the final state and carries on."""
    bot = start(start_bot)
    sync = polytomic.add_sync(name="Deleted status")
    execution = sync.start_execution(cancel_delay=None)
    confirm(admin(bot, slack), sync.id)
    wait_until(lambda: status_messages(slack), what="the status message")
    wait_until(lambda: execution.status == "canceling", what="the cancel")
    first = the_status_message(slack)
    WebClient(base_url=slack.api_url, token=BOT_TOKEN).chat_delete(channel=CHANNEL, ts=first.ts)
    execution.finish("canceled")

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    fresh = assert_canceled_once(slack, polytomic, sync, "Deleted status")
    assert fresh.ts != first.ts and len(fresh.versions) == 1
    every = [m for m in slack.messages_in(CHANNEL, include_deleted=True) if not m.is_reply]
    assert [m.ts for m in every] == [first.ts, fresh.ts]
    assert [c.error for c in slack.calls("chat.update")] == ["message_not_found"]


def test_slack_channel_not_found(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """The channel goes away while canceling: the failed edit is recorded, the requester is told
    privately (once per state), and the loop carries on to the outcome."""
    bot = start(start_bot, POLL_TIMEOUT="1.5")  # escalation makes an edit while still canceling
    sync = polytomic.add_sync(name="Vanished channel")
    execution = sync.start_execution(cancel_delay=None)
    _prompt, click_url = confirm(admin(bot, slack), sync.id)
    wait_until(lambda: status_messages(slack), what="the status message")
    slack.remove_channel(CHANNEL)

    def notes() -> list[str]:
        return [all_text(r) for r in slack.responses(click_url) if not r["delete_original"]]

    wait_until(lambda: any("still canceling" in n for n in notes()), what="the private note")
    execution.finish("canceled")
    wait_until(lambda: any("*canceled*" in n for n in notes()), what="the outcome, privately")
    rows = sqlite_rows(tmp_path)
    wait_finished(rows)

    told = notes()
    assert len(told) == 2, told
    assert "still canceling" in told[0] and "/invite" in told[0]
    assert CANCELED in told[1]
    [failed_edit] = slack.calls("chat.update")
    assert failed_edit.error == "channel_not_found"  # recorded, not retried
    [message] = slack.messages_in(CHANNEL)
    assert "canceling…" in all_text(message.latest)  # what was last shown there
    assert rows("SELECT state, status_error FROM operations") == [("canceled", "channel_not_found")]
    _notice, thread = incident_thread(slack)
    assert len(thread) == 2 and "*canceled*" in all_text(thread[1].latest)  # escalation, outcome
    assert len(polytomic.cancel_requests(sync.id)) == 1 and polytomic.effective_cancels(sync.id) == 1


def test_incident_channel_unreachable(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start(start_bot)
    slack.remove_channel(INCIDENTS)
    sync = polytomic.add_sync(name="Quiet incident")
    sync.start_execution(cancel_delay=0.3)
    confirm(admin(bot, slack), sync.id)

    text = final_text(slack, CANCELED)
    rows = sqlite_rows(tmp_path)
    wait_finished(rows)
    assert "The incident channel notice failed: channel_not_found" in text
    message = the_status_message(slack)
    assert message.latest["text"].startswith("<@UADMIN> requested cancellation of Quiet incident: canceled")
    assert "The incident channel notice failed: channel_not_found" in message.latest["text"]
    assert slack.messages_in(INCIDENTS, include_deleted=True) == []
    [attempt] = [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == INCIDENTS]
    assert attempt.error == "channel_not_found"  # tried once, recorded, not retried
    assert rows("SELECT state, incident_error FROM operations") == [("canceled", "channel_not_found")]
    assert len(polytomic.cancel_requests(sync.id)) == 1 and polytomic.effective_cancels(sync.id) == 1


# ---- coalescing -----------------------------------------------------------------------------


def test_status_edits_are_coalesced(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """Polled every 0.1 s for ~2 s, rows growing all the while: edited per change of state."""
    bot = start(start_bot, POLL_INTERVAL="0.1")
    sync = polytomic.add_sync(name="Chatty sync")
    execution = sync.start_execution(cancel_delay=2.0, rows_per_second=1000)
    confirm(admin(bot, slack), sync.id)

    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    message = assert_canceled_once(slack, polytomic, sync, "Chatty sync")
    assert len(polls(polytomic, sync, execution)) >= 10
    assert 2 <= len(message.versions) <= 4, [all_text(v) for v in message.versions]
    assert slack.call_count("chat.update") == len(message.versions) - 1


# ---- the watchdog (requirement 4) -----------------------------------------------------------


def test_watchdog_escalates_once(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """Still canceling after POLL_TIMEOUT: one reply in the notice's thread with a retry button,
    however many polls follow; the status message says so too."""
    bot = start(start_bot, POLL_TIMEOUT="1.5")
    sync = polytomic.add_sync(name="Stuck sync")
    execution = sync.start_execution(cancel_delay=None)  # stays canceling
    confirm(admin(bot, slack), sync.id)

    def escalations() -> list[Message]:
        notices = status_messages(slack, INCIDENTS)
        if not notices:
            return []
        return slack.thread(INCIDENTS, notices[0].ts, include_deleted=True)

    wait_until(escalations, 10, what="the escalation")
    seen = len(polls(polytomic, sync, execution))
    # Many more passes over the still-canceling operation (POLL_INTERVAL is 0.2 s).
    wait_until(lambda: len(polls(polytomic, sync, execution)) >= seen + 12, 10, what="more polls")

    notice, thread = incident_thread(slack)
    [escalation] = thread
    assert escalation.thread_ts == notice.ts
    retry = button(escalation.latest, "cancel_retry")
    assert retry["text"]["text"] == "Try the cancel again"
    assert "Polytomic has not stopped the run yet" in all_text(escalation.latest)
    message = the_status_message(slack)
    assert "*still canceling*" in all_text(message.latest)
    assert message.latest["text"].startswith(
        "<@UADMIN> requested cancellation of Stuck sync: still canceling after 1 minute.\n"
    )
    assert button(message.latest, "cancel_retry")["value"] == retry["value"]
    assert len(message.versions) == 2  # canceling…, then still canceling: once per change of state
    assert len(polytomic.cancel_requests(sync.id)) == 1
    assert execution.status == "canceling"

    execution.finish("canceled")  # Polytomic gets there in the end
    final_text(slack, CANCELED)
    wait_finished(sqlite_rows(tmp_path))
    message = assert_canceled_once(slack, polytomic, sync, "Stuck sync", replies=2)
    with pytest.raises(AssertionError):
        button(message.latest, "cancel_retry")  # nothing left to retry
