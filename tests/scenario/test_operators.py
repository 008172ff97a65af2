"""Issue 5, the operators' tools, end to end: help, list, cancel by name, why, audit, cancel
and pause (then resume), and progress while a cancel takes its time.

Every test runs the bot in this process (production's wiring) against the fake Slack and
Polytomic servers and talks to it with signed requests, as the cancel-flow tests do; progress
is driven by the clock, not waited for. `polytomic-bot check` is covered by
tests/integration/test_check.py.
"""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path
from typing import Any

from bot.views.status import PROGRESS_EVERY
from bot.views.syncs import MAX_LIST
from tests.harness import (
    CHANNEL,
    SlackUser,
    all_text,
    answer_to,
    button,
    confirm,
    db_rows,
    query_db,
    status_messages,
)
from tests.scenario.inprocess import InProcessBot, cli_grant, settle, wait_until

SETTLE = 0.8  # a short, bounded wait before asserting that nothing more happened
HELP_LINE = re.compile(r"^• `/polytomic (\w+)[^`]*`: .*\. Example: `/polytomic (\w+)[^`]*`$", re.M)


# ---- helpers ---------------------------------------------------------------------------


def first_answer(user: SlackUser, text: str) -> dict[str, Any]:
    ack, url = user.command(text)
    assert ack.status_code == 200
    return user.answers(url)[0]


def sections_text(answer: dict[str, Any]) -> str:
    """What the answer's sections show (mrkdwn), one per line."""
    return "\n".join(b["text"]["text"] for b in answer.get("blocks") or [] if b.get("type") == "section")


def accessories(answer: dict[str, Any], action_id: str) -> list[dict[str, Any]]:
    """The buttons sitting next to sections (a list line's "Cancel…", a pick's "Choose")."""
    return [
        block["accessory"]
        for block in answer.get("blocks") or []
        if (block.get("accessory") or {}).get("action_id") == action_id
    ]


def sync_sections(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The sections of a list or a pick that are about one sync (they end with its ID)."""
    return [
        block
        for block in (answer.get("blocks") or [])[1:]
        if block.get("type") == "section" and re.search(r"`[0-9a-f-]{36}`$", block["text"]["text"])
    ]


def section_of(answer: dict[str, Any], sync_id: str) -> dict[str, Any]:
    [section] = [s for s in sync_sections(answer) if s["text"]["text"].endswith(f"`{sync_id}`")]
    return section


def has_button(message: dict[str, Any], action_id: str) -> bool:
    return any(
        element.get("action_id") == action_id
        for block in message.get("blocks") or []
        for element in block.get("elements") or []
    )


def click_answer(user: SlackUser, action_id: str, value: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    click, url = user.click(action_id, value, **kwargs)
    assert click.status_code == 200
    return url, user.answers(url)[0]


def assert_denial(
    text: str, action: str, scope: str, granters: tuple[str, ...], others: tuple[str, ...]
) -> None:
    """A denial names the permission that is missing and who may grant it (and nobody else)."""
    assert "don't have permission" in text, text
    assert f"you need `{action}` on {scope}" in text, text
    who = text.split("Who can grant it:", 1)[1]
    for mention in granters:
        assert mention in who, (mention, text)
    for mention in others:
        assert mention not in who, (mention, text)


def answers_posted(slack: Any, url: str) -> list[Any]:
    """Every post to a response_url, refused ones included (responses() has accepted ones only)."""
    rid = url.rsplit("/", 1)[1]
    return [c for c in slack.calls("response_url") if c.path.endswith(rid)]


def backdate(execution: Any, seconds: float) -> None:
    """Make a fake run look as if it had started `seconds` ago."""
    execution.created_mono -= seconds


def list_order(polytomic: Any) -> list[Any]:
    """The fake's sync list order: updated_at descending, ID as the tiebreaker."""
    return sorted(polytomic.syncs, key=lambda s: (-s.updated_mono, s.id))


def activations(polytomic: Any, sync_id: str) -> list[Any]:
    return [r.json for r in polytomic.requests_to("POST", rf"^/api/syncs/{sync_id}/activate$")]


# ---- 1. help ---------------------------------------------------------------------------


def test_help_lists_only_what_the_caller_may_run(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    sync = polytomic.add_sync(name="Orders")
    cli_grant(sqlite_url, "UERIN", "admin", sync.id)  # bootstrapped from the CLI, before the bot
    cli_grant(sqlite_url, "UPAT", "cancel", sync.id)
    cli_grant(sqlite_url, "UPAT", "pause", sync.id)
    bot = start_bot()
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    slack.add_usergroup("SONCALL", "oncall", ["UBOB"])
    assert "may now cancel" in answer_to(admin, f"grant <@UALICE|alice> cancel {sync.id}")
    assert "may now cancel" in answer_to(admin, "grant <!subteam^SONCALL|@oncall> cancel *")

    def help_for(user_id: str) -> tuple[list[str], str]:
        text = sections_text(first_answer(SlackUser(bot, slack, user_id, CHANNEL), "help"))
        lines = HELP_LINE.findall(text)
        assert all(usage == example for usage, example in lines), text  # each with its example
        return [usage for usage, _ in lines], text

    everyone = ["list", "status", "why", "grants", "subscriptions", "help"]
    cancellers = ["cancel", "list", "status", "why", "audit", "grants", "subscriptions", "help"]
    admins = [
        *("cancel", "pause", "resume", "list", "status", "why", "audit", "grant", "revoke", "grants"),
        *("subscribe", "unsubscribe", "subscriptions", "start", "help"),
    ]

    listed, text = help_for("UNOBODY")
    assert listed == everyone
    assert "ask a bot admin for the `cancel` permission" in text
    assert "Cancel and pause" not in text

    for user_id in ("UALICE", "UBOB"):  # a direct grant on one sync; a group's grant
        listed, text = help_for(user_id)
        assert listed == cancellers, user_id
        assert "ask a bot admin" not in text and "Cancel and pause" not in text

    listed, text = help_for("UPAT")
    assert listed == ["cancel", "pause", "resume", *cancellers[1:]]  # pause: the stop commands too
    assert "The cancel prompt also offers *Cancel and pause the schedule*." in text

    for user_id in ("UERIN", "UADMIN"):  # admin of one sync; a bot admin
        listed, text = help_for(user_id)
        assert listed == admins, user_id
        assert "Cancel and pause the schedule" in text and "ask a bot admin" not in text


# ---- 2. list -------------------------------------------------------------------------------


def test_list_pages_cuts_and_offers_cancel_where_allowed(
    start_bot: Any, slack: Any, polytomic: Any, tmp_path: Path
) -> None:
    bot = start_bot(LIST_CACHE_SECONDS="0")  # each listing reads afresh: the runs change below
    for i in range(60):  # more than one page (the fake, like Polytomic, pages by 50)
        polytomic.add_sync(name=f"Sync {i:02d}", target_object=f"Object{i:02d}")
    paused = polytomic.syncs[-3]
    paused.set_active(False)
    order = list_order(polytomic)
    shown = order[:MAX_LIST]
    running = [shown[2], shown[5], shown[9]]
    queued = shown[12]
    far = order[55]  # on the second page, and past what `list` shows
    runs = {}
    for sync in running:
        runs[sync.id] = sync.start_execution(cancel_delay=0.3)
        backdate(runs[sync.id], 300)
    runs[queued.id] = queued.start_execution(pending_for=3600)
    backdate(runs[queued.id], 125)
    runs[far.id] = far.start_execution()
    active = {s.id for s in [*running, queued, far]}

    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    alice = SlackUser(bot, slack, "UALICE", CHANNEL)
    bob = SlackUser(bot, slack, "UBOB", CHANNEL)
    nobody = SlackUser(bot, slack, "UNOBODY", CHANNEL)
    slack.add_usergroup("SONCALL", "oncall", ["UBOB"])
    answer_to(admin, f"grant <@UALICE> cancel {running[1].id}")
    answer_to(admin, f"grant <!subteam^SONCALL> cancel {far.id}")

    # `list`: the first page and the next one (by its token), cut to MAX_LIST with a count.
    polytomic.clear_requests()
    everything = first_answer(admin, "list")
    pages = polytomic.requests_to("GET", r"^/api/syncs$")
    assert len(pages) == 2
    assert "page_token" not in pages[0].query
    assert pages[1].query.get("page_token")
    assert everything["text"].startswith("60 syncs\n") and "…and 40 more not shown." in everything["text"]
    assert all(f"{s.name} → {s.target_object}\n" in everything["text"] for s in shown)
    assert everything["blocks"][0]["text"]["text"] == "*60 syncs*"
    assert everything["blocks"][-1]["elements"][0]["text"].startswith("…and 40 more not shown.")
    sections = sync_sections(everything)
    assert [s["text"]["text"].rsplit("`", 2)[1] for s in sections] == [s.id for s in shown]
    for sync in shown:
        line = section_of(everything, sync.id)["text"]["text"]
        assert line.startswith(f"*{sync.name}* → {sync.target_object}\n"), line
        if sync in running:
            assert re.search(r"\n\*running\* for 5 min( \d+ s)? · `", line), line
        elif sync is queued:
            assert re.search(r"\n\*queued\* for 2 min( \d+ s)? · `", line), line
        elif sync is paused:
            assert "\nnot running · schedule paused · `" in line, line
        else:
            assert "\nnot running · `" in line, line
    # A bot admin may cancel every running sync shown: one button each, and only on those.
    buttons = accessories(everything, "list_cancel")
    assert sorted(b["value"] for b in buttons) == sorted(s.id for s in [*running, queued])
    assert all(b["text"]["text"] == "Cancel…" for b in buttons)

    # `list running`: every page is looked at, so the run on page two is there too.
    running_list = first_answer(admin, "list running")
    assert running_list["text"].startswith("5 running syncs\n")
    assert {s["text"]["text"].rsplit("`", 2)[1] for s in sync_sections(running_list)} == active
    assert "more not shown" not in all_text(running_list)
    assert {b["value"] for b in accessories(running_list, "list_cancel")} == active
    assert "*running* for" in section_of(running_list, far.id)["text"]["text"]

    # Buttons only where the caller may cancel: a direct grant, a group's grant, none.
    assert [b["value"] for b in accessories(first_answer(alice, "list running"), "list_cancel")] == [
        running[1].id
    ]
    assert [b["value"] for b in accessories(first_answer(bob, "list running"), "list_cancel")] == [far.id]
    seen_by_nobody = first_answer(nobody, "list running")
    assert len(sync_sections(seen_by_nobody)) == 5 and accessories(seen_by_nobody, "list_cancel") == []

    # A long running list is cut too, with the count of what is not shown.
    more = [s for s in order[20:] if s.id not in active][:18]
    for sync in more:
        sync.start_execution()
    cut = first_answer(admin, "list running")
    assert cut["text"].startswith("23 running syncs\n")
    assert f"…and {23 - MAX_LIST} more not shown." in cut["text"]
    assert len(sync_sections(cut)) == MAX_LIST
    assert cut["blocks"][-1]["elements"][0]["text"].startswith(f"…and {23 - MAX_LIST} more not shown.")
    assert polytomic.cancel_requests() == []

    # Someone without the grant who forges the button is told why, and nothing is sent.
    _url, denial = click_answer(nobody, "list_cancel", running[1].id)
    assert_denial(all_text(denial), "cancel", f"sync `{running[1].id}` (or on `*`)", ("<@UADMIN>",), ())

    # Alice's button leads into the confirm flow, at her click's response_url.
    _url, prompt = click_answer(alice, "list_cancel", running[1].id)
    target = runs[running[1].id]
    assert json.loads(button(prompt, "cancel_confirm")["value"]) == {"s": running[1].id, "e": target.id}
    assert not has_button(prompt, "cancel_pause_confirm")
    alice.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    wait_until(lambda: target.status == "canceled", what="the run alice picked to be canceled")
    wait_until(lambda: any("*canceled* after" in all_text(m.latest) for m in status_messages(slack)))
    [cancel] = polytomic.cancel_requests()
    assert cancel.path == f"/api/syncs/{running[1].id}/executions/{target.id}/cancel"
    assert all(run.is_active for sync_id, run in runs.items() if sync_id != running[1].id)
    assert ("UALICE", "cancel.confirm", "allowed") in db_rows(
        tmp_path, "SELECT actor, action, decision FROM audit_events"
    )


# ---- 3. cancel by name ---------------------------------------------------------------------


def test_cancel_by_exact_name_quotes_ambiguity_and_missing_names(
    bot: Any, slack: Any, polytomic: Any
) -> None:
    orders = polytomic.add_sync(name="Nightly Orders")
    twins = [
        polytomic.add_sync(name="Hourly Contacts", target_object="Contact"),
        polytomic.add_sync(name="HOURLY contacts", target_object="Lead"),
    ]
    odd = polytomic.add_sync(name="R&D <beta>")
    polytomic.add_sync(name="Nightly Orders (old)")
    for i in range(55):  # the named syncs are the oldest: on the list's second page
        polytomic.add_sync(name=f"Filler {i:02d}")
    runs = {s.id: s.start_execution(cancel_delay=0.3) for s in [orders, *twins, odd]}
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)

    def prompted_for(answer: dict[str, Any], sync: Any) -> bool:
        value = json.loads(button(answer, "cancel_confirm")["value"])
        return bool(value == {"s": sync.id, "e": runs[sync.id].id})

    # Exact, case aside, quotes (straight or smart) allowed; found through the list endpoint.
    polytomic.clear_requests()
    for text in ('cancel "nightly ORDERS"', "cancel nightly orders", "cancel “Nightly   Orders”"):
        answer = first_answer(admin, text)
        assert prompted_for(answer, orders), text
        assert "*Nightly Orders* is running." in all_text(answer)
    assert any(r.query.get("page_token") for r in polytomic.requests_to("GET", r"^/api/syncs$"))
    # Slack sends a typed `&`, `<`, `>` as entities.
    assert prompted_for(first_answer(admin, "cancel R&amp;D &lt;beta&gt;"), odd)

    # Several syncs of that name: one button each, and nothing sent yet.
    pick = first_answer(admin, "cancel hourly contacts")
    assert pick["text"].startswith("2 syncs are named hourly contacts. Which one?\n")
    assert all(t.id in pick["text"] for t in twins)
    choices = accessories(pick, "sync_pick")
    values = sorted((json.loads(c["value"]) for c in choices), key=lambda v: v["s"])
    assert values == sorted(({"v": "cancel", "s": t.id} for t in twins), key=lambda v: v["s"])
    assert all(c["text"]["text"] == "Choose" for c in choices)
    assert "→ Lead" in all_text(pick) and "→ Contact" in all_text(pick)

    # None of that name: said so, with the name escaped.
    missing = first_answer(admin, "cancel No &lt;such&gt; &amp; sync")
    assert "No sync is named *No &lt;such&gt; &amp; sync*" in sections_text(missing)
    assert "No sync is named No &lt;such&gt; &amp; sync" in missing["text"]
    assert "<such>" not in all_text(missing) and "& sync" not in all_text(missing)
    assert "No sync is named *Nightly*" in sections_text(first_answer(admin, "cancel Nightly"))
    settle(SETTLE)
    assert polytomic.cancel_requests() == []

    # Choosing one goes on with that sync, into the usual confirm flow.
    chosen = twins[1]
    [choice] = [c for c in choices if json.loads(c["value"])["s"] == chosen.id]
    _url, prompt = click_answer(admin, "sync_pick", choice["value"])
    assert prompted_for(prompt, chosen)
    admin.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    wait_until(lambda: runs[chosen.id].status == "canceled", what="the chosen twin to be canceled")
    [cancel] = polytomic.cancel_requests()
    assert cancel.path == f"/api/syncs/{chosen.id}/executions/{runs[chosen.id].id}/cancel"
    assert runs[twins[0].id].is_active and runs[orders.id].is_active

    # The same by-name resolution and pick serve `status` and `why`.
    pick = first_answer(admin, 'status "hourly contacts"')
    [status_choice] = [
        c for c in accessories(pick, "sync_pick") if json.loads(c["value"])["s"] == twins[0].id
    ]
    assert json.loads(status_choice["value"])["v"] == "status"
    _url, status = click_answer(admin, "sync_pick", status_choice["value"])
    assert "*Hourly Contacts* is running." in all_text(status)
    assert "Your permissions on *R&amp;D &lt;beta&gt;*" in answer_to(admin, "why r&amp;d &lt;BETA&gt;")
    assert len(polytomic.cancel_requests()) == 1


# ---- 4. why, denials, audit ------------------------------------------------------------------


def test_why_names_the_grant_or_what_is_missing_and_who_may_grant_it(
    start_bot: Any, slack: Any, polytomic: Any, sqlite_url: str
) -> None:
    sync = polytomic.add_sync(name="Billing")
    other = polytomic.add_sync(name="Support")
    sync.start_execution()
    cli_grant(sqlite_url, "UFAY", "admin", "*")  # may grant everywhere (from the CLI, before the bot)
    bot = start_bot()
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    slack.add_usergroup("SONCALL", "oncall", ["UBOB"])
    answer_to(admin, f"grant <@UALICE> cancel {sync.id}")
    answer_to(admin, "grant <!subteam^SONCALL> cancel *")
    answer_to(admin, f"grant <@UERIN> admin {sync.id}")  # may grant on this sync only
    rules = {
        (subject, action, scope): grant_id
        for grant_id, subject, action, scope in query_db(
            sqlite_url, "SELECT id, subject_id, action, scope FROM grants"
        )
    }
    on_sync = f"sync `{sync.id}` (or on `*`)"
    granters = ("<@UADMIN>", "<@UERIN>", "<@UFAY>")

    def why(user_id: str, ref: str = sync.id) -> dict[str, str]:
        text = answer_to(SlackUser(bot, slack, user_id, CHANNEL), f"why {ref}")
        lines = dict(re.findall(r"^• `(\w+)`: (.*)$", text, re.M))
        assert set(lines) == {"cancel", "pause", "start", "subscribe", "admin"}, text
        return lines

    alice = why("UALICE")
    assert alice["cancel"] == (
        f"allowed by grant #{rules[('UALICE', 'cancel', sync.id)]}: <@UALICE> may cancel on sync `{sync.id}`"
    )
    assert alice["pause"].startswith(f"not allowed; you need `pause` on {on_sync}. Who can grant it: ")
    for mention in granters:
        assert mention in alice["pause"] and mention in alice["admin"]

    bob = why("UBOB", '"billing"')  # by name, too
    assert bob["cancel"] == (
        f"allowed by grant #{rules[('SONCALL', 'cancel', '*')]}: <!subteam^SONCALL> may cancel on every sync"
    )
    assert bob["pause"].startswith("not allowed")

    assert set(why("UADMIN").values()) == {"allowed by BOT_ADMINS"}
    erin = why("UERIN")
    assert erin["cancel"].startswith(
        f"allowed by grant #{rules[('UERIN', 'admin', sync.id)]}: <@UERIN> may admin"
    )
    assert erin["admin"].startswith("allowed by")

    nobody = why("UNOBODY")
    for action in ("cancel", "pause", "admin"):
        assert nobody[action].startswith(f"not allowed; you need `{action}` on {on_sync}. Who can grant it: ")
        assert all(m in nobody[action] for m in granters)
    # On another sync, that sync's admin is not among those who may grant.
    elsewhere = why("UNOBODY", other.id)
    assert "<@UERIN>" not in elsewhere["cancel"] and "<@UFAY>" in elsewhere["cancel"]

    # Every denial says the same: what is missing and who may grant it.
    nob = SlackUser(bot, slack, "UNOBODY", CHANNEL)
    assert_denial(answer_to(nob, f"cancel {sync.id}"), "cancel", on_sync, granters, ())
    assert_denial(answer_to(nob, f"audit {sync.id}"), "cancel", on_sync, granters, ())
    assert_denial(answer_to(nob, "audit"), "admin", "`*`", ("<@UADMIN>", "<@UFAY>"), ("<@UERIN>",))
    assert_denial(
        answer_to(nob, f"grant <@UNOBODY> cancel {other.id}"),
        "admin",
        f"sync `{other.id}` (or on `*`)",
        ("<@UADMIN>", "<@UFAY>"),
        ("<@UERIN>",),
    )
    assert_denial(
        answer_to(SlackUser(bot, slack, "UERIN", CHANNEL), "revoke <@UALICE> cancel *"),
        "admin",
        "`*`",
        ("<@UADMIN>", "<@UFAY>"),
        ("<@UERIN>",),
    )
    assert polytomic.cancel_requests() == []


def test_audit_newest_first_with_who_what_when_decision_and_outcome(
    bot: Any, slack: Any, polytomic: Any, tmp_path: Path
) -> None:
    sync = polytomic.add_sync(name="Invoices")
    other = polytomic.add_sync(name="Refunds")
    sync.start_execution(cancel_delay=0.3)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    alice = SlackUser(bot, slack, "UALICE", CHANNEL)
    nobody = SlackUser(bot, slack, "UNOBODY", CHANNEL)
    answer_to(admin, f"grant <@UALICE> cancel {sync.id}")
    assert "don't have permission" in answer_to(nobody, f"cancel {sync.id}")
    confirm(alice, sync.id)
    wait_until(
        lambda: db_rows(tmp_path, "SELECT finished_at IS NOT NULL FROM operations") == [(1,)],
        what="the cancel to be done",
    )

    trail = sections_text(first_answer(alice, f"audit {sync.id}")).split("\n")
    assert trail[0] == f"*Audit trail for sync `{sync.id}`*, newest first:"
    entries = trail[1:]
    date = r"<!date\^\d+\^\{date_short_pretty\} at \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>"
    matches = [re.match(rf"^• {date} · <@(U[A-Z]+)> · `([\w.]+)`", entry) for entry in entries]
    assert all(matches), entries
    for entry in entries:
        assert "` · sync `" not in entry  # it is all about this sync: no sync column
    summary = [m.groups() for m in matches if m]
    assert summary == [
        ("UALICE", "audit"),
        ("UALICE", "cancel"),
        ("UALICE", "cancel.confirm"),
        ("UALICE", "cancel.request"),
        ("UNOBODY", "cancel.request"),
        ("UADMIN", "grant"),  # the change...
        ("UADMIN", "grant"),  # ...and the decision that allowed it
    ]
    assert "*allowed*" in entries[0]
    assert "→ canceled" in entries[1]
    assert "*allowed* (grant #1: &lt;@UALICE&gt; may cancel on sync" in entries[2]
    assert "*denied* (no grant)" in entries[4]
    assert f"→ user UALICE cancel {sync.id}: changed" in entries[5]
    assert "*allowed* (BOT_ADMINS)" in entries[6]

    # The whole trail needs `admin` on *; a sync's trail needs `cancel` on it.
    assert_denial(answer_to(alice, "audit"), "admin", "`*`", ("<@UADMIN>",), ())
    assert_denial(answer_to(nobody, f"audit {sync.id}"), "cancel", f"sync `{sync.id}` (or on `*`)", (), ())
    assert_denial(answer_to(alice, f"audit {other.id}"), "cancel", f"sync `{other.id}` (or on `*`)", (), ())
    whole = sections_text(first_answer(admin, "audit")).split("\n")
    assert whole[0] == "*Audit trail*, newest first:"
    assert "<@UADMIN> · `audit` · *allowed*" in whole[1]
    assert f"<@UALICE> · `audit` · sync `{other.id}` · *denied*" in whole[2]
    assert f"<@UNOBODY> · `audit` · sync `{sync.id}` · *denied*" in whole[3]
    assert "<@UALICE> · `audit` · *denied*" in whole[4]
    assert any(f"`cancel` · sync `{sync.id}` · → canceled" in line for line in whole)


def test_audit_answers_with_a_full_page_of_entries(bot: Any, slack: Any, polytomic: Any) -> None:
    sync = polytomic.add_sync(name="Invoices")  # nothing running: each cancel is just a decision
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    alice = SlackUser(bot, slack, "UALICE", CHANNEL)
    answer_to(admin, f"grant <@UALICE> cancel {sync.id}")
    for _ in range(20):
        assert "nothing to cancel" in answer_to(alice, f"cancel {sync.id}")
    for user, command in ((alice, f"audit {sync.id}"), (admin, "audit")):
        _ack, url = user.command(command)
        [attempt] = wait_until(partial(answers_posted, slack, url), what=f"the answer to {command}")
        assert attempt.status == 200, (command, attempt.status, attempt.response)
        assert len(slack.responses(url)[0]["text"].split("\n")) == 21, command


# ---- 5. cancel and pause, then resume ---------------------------------------------------------


def test_cancel_and_pause_then_resume_schedule(bot: Any, slack: Any, polytomic: Any, tmp_path: Path) -> None:
    sync = polytomic.add_sync(name="Nightly Orders", next_run_in=600)
    execution = sync.start_execution(cancel_delay=0.5, rows_per_second=200)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)
    pat = SlackUser(bot, slack, "UPAT", CHANNEL)  # cancel and pause
    alice = SlackUser(bot, slack, "UALICE", CHANNEL)  # cancel only
    paula = SlackUser(bot, slack, "UPAULA", CHANNEL)  # pause only
    for grant in (f"<@UPAT> cancel {sync.id}", f"<@UPAT> pause {sync.id}", f"<@UALICE> cancel {sync.id}"):
        answer_to(admin, f"grant {grant}")
    answer_to(admin, f"grant <@UPAULA> pause {sync.id}")
    on_sync = f"sync `{sync.id}` (or on `*`)"

    # The second choice is offered to those who hold `pause` (and `cancel`) only.
    alices = first_answer(alice, f"cancel {sync.id}")
    assert has_button(alices, "cancel_confirm") and not has_button(alices, "cancel_pause_confirm")
    assert "Cancel and pause" not in all_text(alices)
    assert_denial(answer_to(paula, f"cancel {sync.id}"), "cancel", on_sync, ("<@UADMIN>",), ())
    prompt = first_answer(pat, f"cancel {sync.id}")
    pause_button = button(prompt, "cancel_pause_confirm")
    assert pause_button["text"]["text"] == "Cancel and pause the schedule"
    assert pause_button["style"] == "danger" and pause_button["confirm"]["style"] == "danger"
    assert (
        "start no new scheduled runs until someone resumes the schedule"
        in (pause_button["confirm"]["text"]["text"])
    )
    assert json.loads(pause_button["value"]) == {"s": sync.id, "e": execution.id}
    assert has_button(first_answer(admin, f"cancel {sync.id}"), "cancel_pause_confirm")

    # Alice (cancel, not pause) clicking it anyway is denied, and nothing is sent.
    _url, denial = click_answer(alice, "cancel_pause_confirm", pause_button["value"])
    assert_denial(all_text(denial), "pause", on_sync, ("<@UADMIN>",), ())
    settle(SETTLE)
    assert polytomic.cancel_requests() == [] and activations(polytomic, sync.id) == []
    assert execution.is_active and sync.active
    assert status_messages(slack) == []

    # Pat's click: the cancel, then the pause.
    pat.click("cancel_pause_confirm", pause_button["value"])

    def final() -> Any:
        message = status_messages(slack)[0]
        return message if has_button(message.latest, "resume_schedule") else None

    message = wait_until(final, 15, what="the final status message with Resume schedule")
    assert len(status_messages(slack)) == 1
    text = all_text(message.latest)
    assert "*Nightly Orders* (and a pause of its schedule): *canceled* after" in text
    assert "Schedule paused: no new scheduled runs until someone resumes it." in text
    assert execution.status == "canceled" and sync.active is False
    assert activations(polytomic, sync.id) == [{"active": False}]
    requests = polytomic.requests
    [cancel] = [i for i, r in enumerate(requests) if r.is_cancel]
    [pause] = [i for i, r in enumerate(requests) if r.path.endswith("/activate")]
    # Pause first, then cancel (issue 15: no scheduled run can start in between; it used to be
    # cancel, then pause).
    assert pause < cancel and requests[pause].effective
    assert requests[pause].idempotency_key and requests[pause].idempotency_key.endswith("-pause")
    resume = button(message.latest, "resume_schedule")
    assert resume["text"]["text"] == "Resume schedule"
    wait_until(
        lambda: (
            db_rows(tmp_path, "SELECT finished_at IS NOT NULL FROM operations WHERE state = 'canceled'")
            == [(1,)]
        ),
        what="the operation to be done",
    )

    # A click by someone without `pause` is denied and changes nothing.
    _url, denial = click_answer(alice, "resume_schedule", resume["value"], message_ts=message.ts)
    assert_denial(all_text(denial), "pause", on_sync, ("<@UADMIN>",), ())
    settle(SETTLE)
    assert activations(polytomic, sync.id) == [{"active": False}] and sync.active is False
    assert has_button(slack.message(CHANNEL, message.ts).latest, "resume_schedule")

    # Pat resumes: the schedule is active again, and the message says who resumed it.
    _url, answer = click_answer(pat, "resume_schedule", resume["value"], message_ts=message.ts)
    assert sections_text(answer) == "Resumed the schedule of *Nightly Orders*."
    assert answer["text"] == "Resumed the schedule of Nightly Orders."
    assert activations(polytomic, sync.id) == [{"active": False}, {"active": True}]
    assert sync.active is True

    def resumed() -> Any:
        latest = slack.message(CHANNEL, message.ts).latest
        return latest if not has_button(latest, "resume_schedule") else None

    latest = wait_until(resumed, 10, what="the status message without Resume schedule")
    assert "Schedule paused, then resumed by <@UPAT>" in all_text(latest)
    assert "*canceled* after" in all_text(latest)

    # A second click does nothing more.
    _url, again = click_answer(pat, "resume_schedule", resume["value"], message_ts=message.ts)
    assert again["text"] == "The schedule of Nightly Orders was already resumed."
    settle(SETTLE)
    assert activations(polytomic, sync.id) == [{"active": False}, {"active": True}]
    assert len(polytomic.cancel_requests()) == 1
    assert len(status_messages(slack)) == 1

    audit = db_rows(tmp_path, "SELECT actor, action, decision, outcome FROM audit_events ORDER BY id")
    assert ("UALICE", "cancel.confirm", "allowed", None) in audit
    assert ("UALICE", "pause.confirm", "denied", None) in audit
    assert ("UPAT", "pause.confirm", "allowed", None) in audit
    assert ("UPAT", "pause", None, "paused") in audit
    assert ("UALICE", "resume", "denied", None) in audit
    assert ("UPAT", "resume", "allowed", None) in audit
    assert ("UPAT", "resume", None, "schedule resumed") in audit


# ---- 6. progress ----------------------------------------------------------------------------------

PROGRESS = re.compile(r"Canceling for (\d+) seconds?(?: · Polytomic status: (\w+))? · ([\d,]+) rows? so far")


def test_status_message_shows_elapsed_time_and_rows_while_canceling(
    bot: InProcessBot, slack: Any, polytomic: Any
) -> None:
    sync = polytomic.add_sync(name="Slow to stop")
    execution = sync.start_execution(cancel_delay=None, rows_per_second=1000)  # stays canceling
    backdate(execution, 5)
    confirm(SlackUser(bot, slack, "UADMIN", CHANNEL), sync.id)

    [message] = wait_until(lambda: status_messages(slack), what="the status message")
    first = PROGRESS.search(all_text(message.versions[0]))
    assert first is not None, all_text(message.versions[0])
    # Posted right after the cancel: the status Polytomic reported before it is not shown.
    assert int(first[1]) <= 2 and first[2] is None
    rows_then = int(first[3].replace(",", ""))
    assert rows_then >= 5000

    # Progress alone refreshes the message once per PROGRESS_EVERY seconds, with what changed.
    # Time moves on for the bot (its clock) and for the run (started that much earlier) at
    # once: not before PROGRESS_EVERY seconds...
    backdate(execution, PROGRESS_EVERY - 2)
    bot.advance(PROGRESS_EVERY - 2)
    assert slack.message(CHANNEL, message.ts).edit_count == 0
    # ...and then, once.
    backdate(execution, 2)
    bot.advance(2)
    refreshed = wait_until(
        lambda: slack.message(CHANNEL, message.ts).edit_count >= 1, 8, what="a progress refresh"
    )
    assert refreshed
    edited = slack.message(CHANNEL, message.ts)
    later = PROGRESS.search(all_text(edited.versions[1]))
    assert later is not None, all_text(edited.versions[1])
    assert int(later[1]) >= int(first[1]) + PROGRESS_EVERY - 2
    assert int(later[3].replace(",", "")) >= rows_then + 1000 * (PROGRESS_EVERY - 2)
    assert "canceling…" in all_text(edited.versions[1])

    execution.finish("canceled")
    wait_until(lambda: "*canceled* after" in all_text(slack.message(CHANNEL, message.ts).latest))
    assert "rows written before it stopped" in all_text(slack.message(CHANNEL, message.ts).latest)
    assert len(polytomic.cancel_requests(sync.id)) == 1
