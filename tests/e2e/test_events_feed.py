"""Polytomic's events end status messages: by webhook (POST /polytomic/webhook, signed) and by
the events poller (the backstop), against the real bot process and the fake Polytomic."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from bot.polytomic.webhooks import sign
from tests.harness import (
    BotProcess,
    SlackUser,
    all_text,
    button,
    final_text,
    query_db,
    status_messages,
    wait_until,
)

SECRET = "whsec-test-5f1e2d"  # 6-32 characters, Polytomic's rule


def hook_url(bot: BotProcess) -> str:
    return bot.url + "/polytomic/webhook"


def start_cancel(
    bot: BotProcess, slack: Any, polytomic: Any, *, channel: str = "CGENERAL", **run: Any
) -> Any:
    """A running sync, and the admin's confirmed cancel of it; returns the run."""
    sync = polytomic.add_sync(name=f"Orders to CRM {channel}")
    execution = sync.start_execution(**run)
    user = SlackUser(bot, slack, "UADMIN", channel)
    ack, url = user.command(f"cancel {sync.id}")
    assert ack.status_code == 200
    prompt = user.answers(url)[0]
    click, _ = user.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    assert click.status_code == 200
    return execution


def execution_polls(polytomic: Any, execution_id: str) -> int:
    return len(polytomic.requests_to("GET", rf"/executions/{execution_id}$"))


def metric(bot: BotProcess, name: str, **labels: str) -> float:
    text = httpx.get(bot.url + "/metrics", timeout=5).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        got = re.search(r"\{(.*)\}", head)
        if ",".join(sorted((got.group(1) if got else "").split(","))) == want or (
            not labels and "{" not in head
        ):
            return float(value)
    return 0.0


def op_row(database_url: str, execution_id: str) -> tuple[Any, ...]:
    rows = query_db(
        database_url,
        "SELECT state, finished_at, status_ts FROM operations WHERE execution_id = :e",
        {"e": execution_id},
    )
    assert len(rows) == 1
    return rows[0]


def post_delivery(bot: BotProcess, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Polytomic-Signature"] = signature
    return httpx.post(hook_url(bot), content=body, headers=headers, timeout=10)


def canceled_event(execution: Any, sync_id: str, event_id: str = "ev-forged-1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "sync.canceled",
            "created_at": "2026-12-02T00:00:00Z",
            "organization_id": "org",
            "event": {"execution_id": execution.id, "sync_id": sync_id, "status": "canceled"},
        }
    ).encode()


# ---- the webhook ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_a_signed_canceled_webhook_ends_the_status_message_with_no_status_poll(
    start_bot: Any, slack: Any, polytomic: Any, encoding: str
) -> None:
    """POLL_INTERVAL=60: without the event the final edit would come a minute later."""
    polytomic.signature_encoding = encoding
    bot = start_bot(
        POLL_INTERVAL="60", POLYTOMIC_WEBHOOK_SECRET=SECRET, POLYTOMIC_EVENTS_INTERVAL="0", LOG_LEVEL="DEBUG"
    )  # each delivery's line (with the signature's form) is at debug
    polytomic.register_webhook(hook_url(bot), SECRET)
    execution = start_cancel(bot, slack, polytomic, cancel_delay=0.5)
    final_text(slack, "*canceled*", timeout=5)  # far sooner than the 60 s poll
    delivered = polytomic.wait_for_deliveries(1, event_type="sync.canceled", ok=True)
    assert delivered[0].status == 200
    assert execution_polls(polytomic, execution.id) == 0  # the event was the run's end
    assert len(status_messages(slack)) == 1
    logs = bot.logs()
    assert f'"signature_form": "{encoding}"' in logs
    assert SECRET not in logs
    assert metric(bot, "polytomic_bot_events_received_total", source="webhook", type="sync.canceled") == 1
    assert metric(bot, "polytomic_bot_event_to_edit_seconds_count") == 1


def test_completed_with_errors_by_webhook_is_completed_with_its_errors_shown(
    start_bot: Any, slack: Any, polytomic: Any
) -> None:
    bot = start_bot(POLL_INTERVAL="60", POLYTOMIC_WEBHOOK_SECRET=SECRET, POLYTOMIC_EVENTS_INTERVAL="0")
    polytomic.register_webhook(hook_url(bot), SECRET)
    start_cancel(
        bot, slack, polytomic, cancel_delay=0.6, cancel_outcome="completed", errors=["row 7: bad email"]
    )
    text = final_text(slack, "*completed*", timeout=5)
    assert "row 7: bad email" in text


def test_without_the_secret_the_route_is_not_there(bot: BotProcess) -> None:
    body = b'{"type": "sync.canceled"}'
    answer = post_delivery(bot, body, sign(body, SECRET))
    assert answer.status_code == 404


def test_forged_unsigned_oversized_and_malformed_deliveries_change_nothing(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    bot = start_bot(POLL_INTERVAL="60", POLYTOMIC_WEBHOOK_SECRET=SECRET, POLYTOMIC_EVENTS_INTERVAL="0")
    # A run that cancels slowly, so its row is still canceling while the bad deliveries land.
    execution = start_cancel(bot, slack, polytomic, cancel_delay=None)
    wait_until(lambda: op_row(sqlite_url, execution.id)[0] == "canceling", 10, what="canceling")
    body = canceled_event(execution, execution.sync.id)
    answers = {
        "unsigned": post_delivery(bot, body, None).status_code,
        "forged": post_delivery(bot, body, sign(body, "another-secret")).status_code,
        "signed for another body": post_delivery(bot, body, sign(body + b" ", SECRET)).status_code,
        "garbage signature": post_delivery(bot, body, "sha256=nothex").status_code,
        "oversized": post_delivery(bot, b"{" + b" " * 1_100_000 + b"}", sign(b"{}", SECRET)).status_code,
        "malformed": post_delivery(bot, b"{not json", sign(b"{not json", SECRET)).status_code,
        "not an event": post_delivery(bot, b"[1, 2]", sign(b"[1, 2]", SECRET)).status_code,
    }
    assert answers == {
        "unsigned": 401,
        "forged": 401,
        "signed for another body": 401,
        "garbage signature": 401,
        "oversized": 413,
        "malformed": 400,
        "not an event": 400,
    }
    time.sleep(0.5)  # a pass, had anything made the row due
    assert op_row(sqlite_url, execution.id)[0] == "canceling"
    assert query_db(sqlite_url, "SELECT count(*) FROM polytomic_events") == [(0,)]
    assert "*canceled*" not in all_text(status_messages(slack)[0].latest)
    assert metric(bot, "polytomic_bot_webhook_signature_failures_total", reason="mismatch") == 2
    assert SECRET not in bot.logs()
    # The same body, signed: taken.
    assert post_delivery(bot, body, sign(body, SECRET)).status_code == 200
    final_text(slack, "*canceled*", timeout=5)


def test_duplicated_and_reordered_deliveries_never_move_a_row_back_nor_post_twice(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    bot = start_bot(POLL_INTERVAL="60", POLYTOMIC_WEBHOOK_SECRET=SECRET, POLYTOMIC_EVENTS_INTERVAL="0")
    polytomic.register_webhook(hook_url(bot), SECRET)
    polytomic.set_delivery_mode(duplicate=1.0, reorder=2, hold=0.3, seed=7)
    execution = start_cancel(bot, slack, polytomic, cancel_delay=0.5)
    final_text(slack, "*canceled*", timeout=8)
    polytomic.flush_deliveries()
    canceled = polytomic.events_for(execution.id, type="sync.canceled")[0]
    # Later, out of order: an older "running", and a different terminal event for the same run.
    polytomic.set_delivery_mode()
    for type_ in ("sync.running", "sync.completed"):
        late = dict(canceled, id=f"late-{type_}", type=type_)
        late_body = json.dumps(late).encode()
        assert post_delivery(bot, late_body, sign(late_body, SECRET)).status_code == 200
    again = json.dumps(canceled).encode()
    answer = post_delivery(bot, again, sign(again, SECRET))
    assert answer.status_code == 200 and answer.json()["duplicate"] is True
    time.sleep(1.0)
    assert op_row(sqlite_url, execution.id)[0] == "canceled"
    statuses = status_messages(slack)
    assert len(statuses) == 1
    assert "*canceled*" in all_text(statuses[0].latest)
    updates = [r for r in slack.requests if r.method == "chat.update"]
    assert len(updates) == 1, [all_text(r.params)[:80] for r in updates]
    keys = query_db(sqlite_url, "SELECT event_key FROM polytomic_events")
    assert len(keys) == len({k for (k,) in keys})
    assert (canceled["id"],) in keys
    assert metric(bot, "polytomic_bot_event_duplicates_total", source="webhook") >= 2


# ---- the poller ----------------------------------------------------------------------------


def test_with_webhooks_lost_the_poller_brings_the_same_outcome(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    bot = start_bot(POLL_INTERVAL="60", POLYTOMIC_WEBHOOK_SECRET=SECRET, POLYTOMIC_EVENTS_INTERVAL="1")
    polytomic.register_webhook(hook_url(bot), SECRET)
    polytomic.set_delivery_mode(lose=1.0)
    execution = start_cancel(bot, slack, polytomic, cancel_delay=0.5)
    final_text(slack, "*canceled*", timeout=6)  # within an events interval or so, not 60 s
    assert polytomic.lost_deliveries
    # No poll found the end (a sync.running event may have made the row due once before it).
    assert execution_polls(polytomic, execution.id) <= 1
    # When that one poll found the end first, the poller brings the event a moment later: once.
    canceled = "SELECT source FROM polytomic_events WHERE type = 'sync.canceled'"
    wait_until(lambda: query_db(sqlite_url, canceled), timeout=5, what="the poller's sync.canceled")
    assert query_db(sqlite_url, canceled) == [("poll",)]
    assert metric(bot, "polytomic_bot_events_received_total", source="poll", type="sync.canceled") == 1


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_the_poller_reads_either_order_and_pages_while_full(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str, order: str
) -> None:
    polytomic.events_order = order
    for i in range(230):  # more than two full pages, none of them for the bot
        polytomic.emit_event("bulk_sync.completed", {"sync_id": f"bulk-{i}", "execution_id": f"bx-{i}"})
    start_bot(POLL_INTERVAL="60", POLYTOMIC_EVENTS_INTERVAL="0.5")
    wait_until(
        lambda: query_db(sqlite_url, "SELECT count(*) FROM polytomic_events")[0][0] == 230,
        10,
        what="every event stored",
    )
    time.sleep(1.2)  # two more polls over the overlap: nothing new, nothing twice
    assert query_db(sqlite_url, "SELECT count(*) FROM polytomic_events") == [(230,)]
    assert query_db(sqlite_url, "SELECT count(*) FROM operations") == [(0,)]


def test_the_poller_warns_once_and_backs_off_on_403(start_bot: Any, polytomic: Any) -> None:
    polytomic.inject("GET", r"^/api/events", status=403, times=1000)
    bot = start_bot(POLL_INTERVAL="60", POLYTOMIC_EVENTS_INTERVAL="0.2")
    wait_until(lambda: "the events API refused" in bot.logs(), 10, what="the warning")
    time.sleep(1.5)
    assert bot.logs().count("the events API refused") == 1
    # Backing off: far fewer reads than one every 0.2 s.
    assert len(polytomic.requests_to("GET", r"^/api/events")) <= 5


def test_a_restart_mid_stream_loses_no_event(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    """The bot is killed while runs are canceling; their events come while it is down; the
    restarted bot reads them from its stored cursor and ends every message, once."""
    bot = start_bot(POLL_INTERVAL="60", POLYTOMIC_EVENTS_INTERVAL="0.5")
    runs = [start_cancel(bot, slack, polytomic, channel=f"CRUN{i}", cancel_delay=4.0) for i in range(3)]
    wait_until(lambda: all(op_row(sqlite_url, r.id)[2] for r in runs), 10, what="every status message posted")
    wait_until(
        lambda: query_db(sqlite_url, "SELECT cursor FROM event_poller")[0][0] is not None,
        10,
        what="a stored cursor",
    )
    bot.kill()
    for i in range(5):
        polytomic.emit_event("bulk_sync.running", {"sync_id": f"b{i}", "execution_id": f"bx{i}"})
    wait_until(lambda: all(r.ended_at for r in runs), 10, what="every run to end while the bot is down")
    start_bot(POLL_INTERVAL="60", POLYTOMIC_EVENTS_INTERVAL="0.5")
    for i in range(3):
        final_text(slack, "*canceled*", channel=f"CRUN{i}", timeout=10)
        assert len(status_messages(slack, f"CRUN{i}")) == 1
    wanted = {e["id"] for e in polytomic.events if e["type"] in ("sync.canceled", "bulk_sync.running")}
    stored = [k for (k,) in query_db(sqlite_url, "SELECT event_key FROM polytomic_events")]
    assert wanted <= set(stored)
    assert len(stored) == len(set(stored))


@pytest.mark.postgres
def test_two_replicas_poll_without_handling_any_event_twice(
    start_bot: Any, slack: Any, polytomic: Any, postgres_url: str
) -> None:
    env = {"database_url": postgres_url, "POLL_INTERVAL": "60", "POLYTOMIC_EVENTS_INTERVAL": "0.3"}
    bots = [start_bot(**env), start_bot(**env)]
    runs = [
        start_cancel(bots[i % 2], slack, polytomic, channel=f"CREP{i}", cancel_delay=1.0) for i in range(6)
    ]
    for i in range(6):
        final_text(slack, "*canceled*", channel=f"CREP{i}", timeout=15)
    time.sleep(1.5)  # more polls by both: a second handling would show now
    for i, run in enumerate(runs):
        assert len(status_messages(slack, f"CREP{i}")) == 1
        assert execution_polls(polytomic, run.id) <= 1  # at most one, for a sync.running
    updates = [r for r in slack.requests if r.method == "chat.update"]
    assert len(updates) == 6
    keys = query_db(postgres_url, "SELECT event_key FROM polytomic_events")
    assert len(keys) == len({k for (k,) in keys})
    handled = sum(
        json.loads(line)["operations"]
        for b in bots
        for line in b.logs().splitlines()
        if '"events made operations due"' in line
    )
    # Each event made its operation due once, in one process: the canceled one, and perhaps a
    # running one.
    assert 6 <= handled <= 12
    assert len(query_db(postgres_url, "SELECT lease_owner FROM event_poller")) == 1
