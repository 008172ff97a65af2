"""Cases of the alerts' views (bot/views/alerts.py, subscriptions.py, starts.py) for
tests/unit/views/test_every_view.py: each with the facts its text must say."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.db.models import Alert, AlertDigest, AlertFailure, Subscription
from bot.polytomic.connections import AmbiguousConnection, Connection, UnknownConnection
from bot.views import alerts, starts
from bot.views import subscriptions as subs
from bot.views.blocks import View, escape
from tests.unit.views.cases import (
    CHANNEL,
    EVIL,
    EXEC_ID,
    NOW,
    REQUESTER,
    SYNC_ID,
    Case,
    make_op,
    make_sync,
    shown,
)

URL = "https://app.polytomic.com/models/syncs/{sync_id}"


def make_alert(**fields: Any) -> Alert:
    values: dict[str, Any] = {
        "id": 7,
        "channel_id": CHANNEL,
        "sync_id": SYNC_ID,
        "sync_name": "Orders to Salesforce",
        "kind": "streak",
        "streak_key": EXEC_ID,
        "state": "open",
        "failures": 3,
        "last_execution_id": EXEC_ID,
        "last_status": "failed",
        "last_error": "Salesforce said no",
        "last_rows": 12,
        "last_at": NOW - timedelta(minutes=2),
        "covered_failures": 0,
        "attempts": 0,
        "created_at": NOW - timedelta(minutes=30),
        "updated_at": NOW,
        "next_poll_at": NOW,
    }
    values.update(fields)
    return Alert(**values)


def alert_cases(name: str | None) -> dict[str, list[Case]]:
    label = shown(name)
    alert = make_alert(sync_name=name, last_error=EVIL)
    recovered = make_alert(
        sync_name=name, state="recovered", recovered_at=NOW, recovered_rows=1500, recovered_execution_id="e2"
    )
    paused = make_alert(sync_name=name, paused_at=NOW, paused_by="UCAROL")
    restart = make_op(kind="start", state="running", requested_by="UCAROL", alert_id=7)
    failure = AlertFailure(
        id=1, alert_id=7, seq=2, execution_id="e2", status="completed_with_errors", error=EVIL, rows=4, at=NOW
    )
    digest = AlertDigest(id=1, channel_id=CHANNEL, opened_at=NOW - timedelta(minutes=1), last_at=NOW)
    members = [make_alert(id=i, sync_id=f"s{i}", sync_name=f"Sync {i}", failures=1) for i in range(25)]
    members[3].state = "recovered"
    sub = Subscription(
        id=1,
        channel_id=CHANNEL,
        scope_kind="connection",
        scope_id="c1",
        scope_name=name,
        mode="all",
        created_by="UALICE",
    )
    gone = Subscription(
        id=2,
        channel_id=CHANNEL,
        scope_kind="sync",
        scope_id=SYNC_ID,
        scope_name=name,
        mode="failures",
        created_by="UALICE",
        disabled_at=NOW,
        disabled_reason="is_archived",
    )
    conn = Connection(id="c1", name=name)
    return {
        "alert_message": [
            (
                alerts.alert_message(alert, NOW, sync_url=URL),
                (label, "failed 3 times in a row", escape(EVIL), "12 rows"),
            ),
            (
                alerts.alert_message(recovered, NOW, sync_url=None),
                (label, "recovered after 3 failures", "1,500 rows"),
            ),
            (
                alerts.alert_message(
                    paused, NOW, sync_url=URL, muted_until=NOW + timedelta(hours=1), restart=restart
                ),
                (
                    "Schedule paused by <@UCAROL>",
                    "Muted here until",
                    "Restart requested by <@UCAROL>: running",
                ),
            ),
        ],
        "failure_reply": [
            (
                alerts.failure_reply(alert, failure),
                ("Failure 2", label, "completed with errors", escape(EVIL)),
            )
        ],
        "recovery_reply": [
            (alerts.recovery_reply(recovered), (label, "recovered after 3 failures", "1,500 rows"))
        ],
        "notice_message": [
            (
                alerts.notice_message(
                    make_alert(sync_name=name, kind="notice", last_status="completed"), sync_url=URL
                ),
                (label, "completed"),
            )
        ],
        "digest_message": [
            (
                alerts.digest_message(digest, members, name or "Salesforce"),
                ("25 syncs", "failed since", "Sync 0", "and 5 more", "1 of them recovered"),
            ),
            (alerts.digest_message(digest, members[:1], None), ("1 sync failed since",)),
        ],
        "channel_gone_note": [
            (
                alerts.channel_gone_note(CHANNEL, "is_archived", [escape(EVIL)]),
                (f"<#{CHANNEL}>", "is_archived", "disabled"),
            )
        ],
        "subscribed_post": [
            (
                subs.subscribed_post(REQUESTER, "sync", SYNC_ID, name, "finished"),
                (f"<@{REQUESTER}>", "failures and finished runs", label),
            ),
            (subs.subscribed_post(REQUESTER, "all", "*", None, "failures"), ("every sync",)),
        ],
        "subscription_changed": [
            (subs.subscription_changed(changed, "connection", "c1", name, "failures"), (word,))
            for changed, word in (
                ("added", "Subscribed"),
                ("updated", "Updated"),
                ("unchanged", "already"),
                ("removed", "Unsubscribed"),
                ("absent", "no subscription"),
            )
        ],
        "not_in_channel": [(subs.not_in_channel(), ("/invite", "Nothing was changed"))],
        "channel_unusable": [(subs.channel_unusable(EVIL), ("Nothing was changed",))],
        "slack_unavailable": [(subs.slack_unavailable(), ("nothing was changed",))],
        "connection_not_found": [
            (subs.connection_not_found(UnknownConnection("none", name or "x")), ("No connection",)),
            (
                subs.connection_not_found(AmbiguousConnection("two", "Sales", (conn, conn))),
                ("Several connections", "c1"),
            ),
        ],
        "subscriptions_list": [
            (
                subs.subscriptions_list([sub, gone], every_channel=True),
                (f"<#{CHANNEL}>", "every sync writing to", "disabled", "is_archived"),
            ),
            (subs.subscriptions_list([], every_channel=False), ("None yet",)),
        ],
        "start_prompt": [(subs.start_prompt(make_sync(name)), ("Start a run of", SYNC_ID))],
        "start_status": [
            (
                starts.start_status(
                    make_op(
                        kind="start",
                        state=state,
                        sync_name=name,
                        execution_id=None,
                        execution_errors=EVIL,
                        last_error=EVIL,
                    ),
                    NOW,
                ),
                facts,
            )
            for state, facts in (
                ("starting", ("starting",)),
                ("running", ("running",)),
                ("completed", ("completed",)),
                ("failed", ("failed", escape(EVIL))),
                ("canceled", ("canceled",)),
                ("rejected", ("not started", escape(EVIL))),
                ("already_running", ("already going",)),
            )
        ],
        "start_not_made": [
            (
                starts.start_not_made(make_op(kind="start", state="duplicate", sync_name=name)),
                ("already under way",),
            ),
            (
                starts.start_not_made(
                    make_op(kind="start", state="denied", last_error="You don't have permission")
                ),
                ("permission",),
            ),
        ],
    }


def evil_alert_views() -> dict[str, View]:
    evil = make_alert(sync_name=EVIL, last_error=EVIL, paused_by="<!channel>")
    return {
        "alert_message": alerts.alert_message(evil, NOW, sync_url=URL),
        "failure_reply": alerts.failure_reply(
            evil, AlertFailure(id=1, alert_id=7, seq=2, execution_id="e", status="failed", error=EVIL, at=NOW)
        ),
    }
