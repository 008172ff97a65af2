"""Grants by user and by user group, revoke, denials that explain themselves, and the audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import (
    CHANNEL,
    SlackUser,
    answer_to,
    confirm,
    db_rows,
)
from tests.scenario.inprocess import final_text


def test_user_grant_then_revoke(bot: Any, slack: Any, polytomic: Any, tmp_path: Path) -> None:
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    alice = SlackUser(bot, slack, "UALICE", CHANNEL)
    sync = polytomic.add_sync(name="Accounts")
    sync.start_execution(cancel_delay=0.3)

    denied = answer_to(alice, f"cancel {sync.id}")
    assert "don't have permission" in denied
    assert f"`cancel` on sync `{sync.id}` (or on `*`)" in denied and "<@UADMIN>" in denied

    granted = answer_to(admin, f"grant <@UALICE|alice> cancel {sync.id}")
    assert f"<@UALICE> may now cancel on sync `{sync.id}`" in granted
    assert "already had" in answer_to(admin, f"grant <@UALICE> cancel {sync.id}")
    listed = answer_to(alice, "grants")
    assert f"<@UALICE> may cancel on sync `{sync.id}`" in listed and "<@UADMIN>" in listed

    confirm(alice, sync.id)
    text = final_text(slack, "*canceled*")
    assert "<@UALICE> requested cancellation" in text

    assert "no longer has `cancel`" in answer_to(admin, f"revoke <@UALICE> cancel {sync.id}")
    other = polytomic.add_sync(name="Accounts again")
    other.start_execution()
    assert "don't have permission" in answer_to(alice, f"cancel {sync.id}")

    audit = db_rows(tmp_path, "SELECT actor, action, decision FROM audit_events ORDER BY id")
    assert ("UALICE", "cancel.request", "denied") in audit
    assert ("UALICE", "cancel.request", "allowed") in audit
    assert ("UADMIN", "grant", "allowed") in audit
    assert ("UADMIN", "revoke", "allowed") in audit
    assert db_rows(tmp_path, "SELECT count(*) FROM grants") == [(0,)]


def test_grant_to_a_user_group(bot: Any, slack: Any, polytomic: Any) -> None:
    slack.add_usergroup("SONCALL", "oncall", ["UBOB", "UCAROL"])
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    bob = SlackUser(bot, slack, "UBOB", CHANNEL)
    dave = SlackUser(bot, slack, "UDAVE", CHANNEL)
    sync = polytomic.add_sync(name="Leads")
    sync.start_execution(cancel_delay=0.3)

    assert "may now cancel on every sync" in answer_to(admin, "grant <!subteam^SONCALL|@oncall> cancel *")
    assert "don't have permission" in answer_to(dave, f"cancel {sync.id}")
    confirm(bob, sync.id)
    final_text(slack, "*canceled*")
    # The member list came from Slack, and was cached rather than fetched for every check.
    calls = slack.calls("usergroups.users.list")
    assert calls and all(c.params.get("usergroup") == "SONCALL" for c in calls)
    assert len(calls) <= 2  # one for dave's command, one for bob's (cached for his click)

    assert "no longer has" in answer_to(admin, "revoke <!subteam^SONCALL> cancel *")
    sync.start_execution()
    assert "don't have permission" in answer_to(bob, f"cancel {sync.id}")


def test_only_admins_grant_and_scoped_admins_stay_in_scope(
    bot: Any, slack: Any, polytomic: Any, tmp_path: Path
) -> None:
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    erin = SlackUser(bot, slack, "UERIN", CHANNEL)
    sync = polytomic.add_sync(name="Scoped")

    denied = answer_to(erin, "grant <@UFRANK> cancel *")
    assert "don't have permission" in denied and "`admin`" in denied
    assert db_rows(tmp_path, "SELECT count(*) FROM grants") == [(0,)]

    answer_to(admin, f"grant <@UERIN> admin {sync.id}")
    assert "may now cancel" in answer_to(erin, f"grant <@UFRANK> cancel {sync.id}")
    assert "don't have permission" in answer_to(erin, "grant <@UFRANK> cancel *")
    rows = db_rows(tmp_path, "SELECT subject_id, action, scope, granted_by FROM grants ORDER BY id")
    assert rows == [("UERIN", "admin", sync.id, "UADMIN"), ("UFRANK", "cancel", sync.id, "UERIN")]
    # A denial names who may grant on that sync: the bot admin and the sync's admin.
    denied = answer_to(SlackUser(bot, slack, "UGINA", CHANNEL), f"cancel {sync.id}")
    assert "<@UADMIN>" in denied and "<@UERIN>" in denied


def test_forged_click_from_user_without_permission(
    bot: Any, slack: Any, polytomic: Any, tmp_path: Path
) -> None:
    sync = polytomic.add_sync(name="Guarded")
    execution = sync.start_execution()
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    _ack, url = admin.command(f"cancel {sync.id}")
    value = admin.answers(url)[0]["blocks"][-1]["elements"][0]["value"]
    mallory = SlackUser(bot, slack, "UMALLORY", CHANNEL)
    _click, click_url = mallory.click("cancel_confirm", value)
    answers = mallory.answers(click_url)
    assert "don't have permission" in answers[0]["text"]
    assert polytomic.cancel_requests() == []
    assert execution.status == "running"
    assert db_rows(tmp_path, "SELECT state FROM operations") == [("denied",)]
    assert ("UMALLORY", "cancel.confirm", "denied") in db_rows(
        tmp_path, "SELECT actor, action, decision FROM audit_events"
    )
    # The denial released the run: the admin can still cancel it.
    confirm(admin, sync.id)
    final_text(slack, "*canceled*")
