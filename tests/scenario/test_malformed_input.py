"""Hostile or malformed input changes nothing and is never echoed as live mrkdwn.

One bot serves the whole barrage of bad commands and bad button values (sent once, by a
module fixture, then given a settle time); each case is then checked on its own. Every case
is sent by a different bot admin, so that a grant, operation or audit row it wrongly caused
would be traced to it, and the clicks aim at a sync that really is running, so that a value
wrongly accepted would show up as traffic to Polytomic.

Two kinds of bad command:
* `usage`: not a command at all (Slack markup where a sync or subject belongs, wrong
  arguments, unknown subcommand, too long). Answered in the ack with a short usage text;
  Polytomic hears nothing.
* `name`: plain words where a sync belongs. Since syncs may be named (`cancel <exact name>`),
  these are looked up through Polytomic's sync list (a read) and answered "no sync is named
  ...", the name shown escaped. Polytomic sees reads of the list and nothing else.
Both change nothing: no grant, no operation, no audit row, no channel message.

The last test runs a sync whose *Polytomic* name is hostile through the whole cancel.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.db import migrate
from bot.fakes.polytomic import FakeExecution, FakePolytomic, FakeSync, RecordedRequest
from bot.fakes.signing import block_actions_body, slash_command_body
from bot.fakes.slack import FakeSlack
from bot.views.blocks import escape, name_text
from tests.harness import POLYTOMIC_KEY, SlackUser, all_text, button
from tests.scenario.inprocess import InProcessBot, settle, wait_until

SETTLE = 1.0
UUID = "248df4b7-aa70-47b8-a036-33ac447e668d"
# What must never reach a person as live mrkdwn: channel pings and disguised links.
FORBIDDEN = ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "<!subteam")

# (case id, kind, command text, substrings of that text the answer must not repeat as typed)
COMMANDS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("channel", "usage", "cancel <!channel>", ()),
    ("here", "usage", "cancel <!here>", ()),
    ("everyone", "usage", "cancel <!everyone>", ()),
    ("link-labelled-with-a-uuid", "usage", f"cancel <https://evil.example|{UUID}>", ("evil.example", UUID)),
    ("link-to-a-uuid-less-url", "usage", "cancel <https://evil.example/syncs/x|click>", ("evil.example",)),
    ("grant-to-channel", "usage", "grant <!channel> cancel *", ()),
    ("grant-link-as-scope", "usage", "grant <@U0GRANTEE> admin <https://evil.example|*>", ("evil.example",)),
    ("grant-escaped-ping-as-scope", "usage", "grant <@U0GRANTEE> cancel &lt;!channel&gt;", ("&lt;!channel",)),
    ("revoke-here", "usage", "revoke <!here> admin *", ()),
    ("grant-unknown-action", "usage", "grant <@U0GRANTEE> destroy *", ("destroy",)),
    ("grant-missing-scope", "usage", "grant <@U0GRANTEE> cancel", ()),
    ("cancel-missing-argument", "usage", "cancel", ()),
    ("cancel-uuid-then-ping", "usage", f"cancel {UUID} <!channel>", (UUID,)),
    ("status-ping", "usage", "status <!here>", ()),
    ("grants-with-arguments", "usage", "grants <!everyone>", ()),
    ("unknown-subcommand", "usage", "frobnicate", ("frobnicate",)),
    ("ping-as-subcommand", "usage", "<!channel> please", ("please",)),
    ("very-long", "usage", ("cancel " + "<!channel> " * 500)[:5000], ()),
    ("raw-ampersand-and-gt", "usage", "cancel a&b>c", ("a&b>c", "b>c")),
    # Plain words: a sync name to look up, and none has it.
    ("cancel-two-words", "name", "cancel a b", ()),
    ("non-ascii", "name", "cancel キャンセル🚀", ()),
    ("typed-ampersand-and-gt", "name", "cancel a&amp;b&gt;c", ("a&b>c", "b>c")),
    ("typed-ping", "name", "cancel &lt;!channel&gt;", ()),
    ("typed-link", "name", "status &lt;https://evil.example|click&gt;", ()),
    ("typed-here-quoted", "name", 'cancel "&lt;!here&gt; *x*"', ()),
]
USAGE_CASES = [c for c in COMMANDS if c[1] == "usage"]
NAME_CASES = [c for c in COMMANDS if c[1] == "name"]

# (case id, button value) for confirm clicks; {s} and {e} are the running sync and run.
CLICKS: list[tuple[str, str]] = [
    ("not-json", "cancel it {{"),
    ("empty", ""),
    ("json-list", '["{s}", "{e}"]'),
    ("json-string", '"{s}"'),
    ("json-nulls", '{{"s": null, "e": null}}'),
    ("json-objects", '{{"s": {{"$ne": 1}}, "e": "{e}"}}'),
    ("sync-not-a-uuid", '{{"s": "not-a-uuid", "e": "{e}"}}'),
    ("sync-path-traversal", '{{"s": "../../api/syncs/{s}", "e": "{e}"}}'),
    ("sync-uuid-with-suffix", '{{"s": "{s}/executions", "e": "{e}"}}'),
    ("execution-dotdot", '{{"s": "{s}", "e": "../{e}"}}'),
    ("execution-traversal-suffix", '{{"s": "{s}", "e": "{e}/../../cancel"}}'),
    ("execution-encoded-slash", '{{"s": "{s}", "e": "{e}%2F..%2Fcancel"}}'),
    ("execution-missing", '{{"s": "{s}"}}'),
    ("execution-3000-chars", '{{"s": "{s}", "e": "' + "a" * 2960 + '"}}'),
    ("junk-3000-chars", "<!channel>" * 300),
]


# ---- helpers ---------------------------------------------------------------------------


def db_rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, params).fetchall()


def mrkdwn_strings(payload: dict[str, Any]) -> list[str]:
    """The strings Slack parses as mrkdwn: the `text` fallback and every mrkdwn text object.

    plain_text objects (button labels, the confirm dialog) are shown literally by Slack: a
    `<!channel>` there is inert text, so they are not included."""
    out: list[str] = [payload["text"]] if isinstance(payload.get("text"), str) else []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
                out.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload.get("blocks"))
    return out


# The only angle-bracket sequences the bot itself may emit: user and channel mentions, dates.
_OWN_SEQUENCES = re.compile(r"<(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+|!date\^\d+\^[^|<>]*\|[^<>]*)>")


def assert_inert(payload: dict[str, Any], where: str, *, strict: bool = True) -> None:
    """No ping, no disguised link; strict: no `<`/`>` at all other than the bot's own sequences."""
    for text in mrkdwn_strings(payload):
        for bad in FORBIDDEN:
            assert bad not in text, f"{where}: {bad!r} in {text!r}"
        if strict:
            leftover = _OWN_SEQUENCES.sub("", text)
            assert "<" not in leftover and ">" not in leftover, f"{where}: unescaped <> in {text!r}"


def web_api_calls(slack: FakeSlack) -> list[str]:
    """Slack Web API calls, but for the auth.test that Bolt makes once, on a process's first
    signed request, whatever it is (see test_signatures.py about that call)."""
    return [c.describe() for c in slack.requests if c.method not in ("response_url", "auth.test")]


def describe(requests: list[RecordedRequest]) -> list[str]:
    return [f"{r.method} {r.path}" for r in requests]


def message_about(slack: FakeSlack, channel: str, sync: FakeSync, *, replies: bool = True) -> Any:
    for message in slack.messages_in(channel):
        if sync.id in all_text(message.latest) and (replies or not message.is_reply):
            return message
    raise AssertionError(f"no message about {sync.id} in {channel}")


# ---- the barrage -----------------------------------------------------------------------


@dataclass
class Sent:
    user: str
    response_url: str
    answer: httpx.Response


@dataclass
class Barrage:
    bot: InProcessBot
    slack: FakeSlack
    polytomic: FakePolytomic
    db_path: Path
    sync: FakeSync
    execution: FakeExecution
    sent: dict[str, Sent] = field(default_factory=dict)
    # What Polytomic had seen once the usage commands and the clicks had settled.
    polytomic_after_usage_and_clicks: list[RecordedRequest] = field(default_factory=list)


def sender(i: int) -> str:
    return f"UBAD{i:02d}"


CASES = [c[0] for c in COMMANDS] + [f"click:{c[0]}" for c in CLICKS]


@pytest.fixture(scope="module")
def barrage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Barrage]:
    workdir = tmp_path_factory.mktemp("malformed")
    slack = FakeSlack().start()
    polytomic = FakePolytomic(api_key=POLYTOMIC_KEY).start()
    # Every sender is a bot admin: a bad command wrongly taken as valid would really act.
    senders = {case: sender(i) for i, case in enumerate(CASES)}
    db_path = workdir / "bot.db"
    migrate.upgrade(f"sqlite:///{db_path}")
    bot = InProcessBot(
        slack, polytomic, f"sqlite:///{db_path}", BOT_ADMINS=",".join(["UADMIN", *senders.values()])
    )
    try:
        sync = polytomic.add_sync(name="Contacts to Salesforce")
        execution = sync.start_execution(cancel_delay=0.2)  # runs until canceled
        world = Barrage(bot, slack, polytomic, db_path, sync, execution)

        def command(case: str, text: str) -> None:
            url = slack.response_url(f"command {case}")
            body = slash_command_body(
                text=text, user_id=senders[case], channel_id="CGENERAL", response_url=url
            )
            world.sent[case] = Sent(senders[case], url, bot.post(body))

        # Phase 1: what must not reach Polytomic at all.
        for case, _, text, _ in USAGE_CASES:
            command(case, text)
        for case, template in CLICKS:
            url = slack.response_url(f"click {case}")
            body = block_actions_body(
                user_id=senders[f"click:{case}"],
                action_id="cancel_confirm",
                value=template.format(s=sync.id, e=execution.id),
                channel_id="CGENERAL",
                response_url=url,
            )
            world.sent[f"click:{case}"] = Sent(senders[f"click:{case}"], url, bot.post(body))
        for case, _ in CLICKS:
            url = world.sent[f"click:{case}"].response_url
            wait_until(lambda url=url: slack.responses(url), what=f"the answer to {case}")
        settle(SETTLE)  # settle: anything wrongly started has had time to show
        world.polytomic_after_usage_and_clicks = polytomic.requests

        # Phase 2: names to look up (reads of the sync list are expected).
        for case, _, text, _ in NAME_CASES:
            command(case, text)
        for case, _, _, _ in NAME_CASES:
            sent = world.sent[case]
            wait_until(
                lambda sent=sent: sent.answer.content or slack.responses(sent.response_url),
                what=f"the answer to {case}",
            )
        settle(SETTLE)
        yield world
    finally:
        bot.stop()
        slack.stop()
        polytomic.stop()


def assert_nothing_changed(world: Barrage, user: str) -> None:
    assert web_api_calls(world.slack) == []
    assert world.slack.messages_in("CGENERAL") == []
    assert world.polytomic.cancel_requests() == []
    writes = [r for r in world.polytomic.requests if r.method != "GET"]
    assert writes == [], describe(writes)
    assert world.execution.is_active and not world.execution.cancel_requested
    assert db_rows(world.db_path, "SELECT count(*) FROM grants") == [(0,)]
    assert db_rows(world.db_path, "SELECT count(*) FROM operations") == [(0,)]
    assert db_rows(world.db_path, "SELECT actor, action FROM audit_events WHERE actor = ?", (user,)) == []


def assert_not_echoed(answer: dict[str, Any], echoes: tuple[str, ...]) -> None:
    shown = all_text(answer)
    for bad in FORBIDDEN:
        assert bad not in shown, f"{bad!r} in {shown!r}"
    for echo in echoes:
        assert echo not in shown, f"{echo!r} echoed in {shown!r}"


@pytest.mark.parametrize(("case", "kind", "text", "echoes"), USAGE_CASES, ids=[c[0] for c in USAGE_CASES])
def test_bad_command_gets_a_short_usage_answer_and_changes_nothing(
    barrage: Barrage, case: str, kind: str, text: str, echoes: tuple[str, ...]
) -> None:
    sent = barrage.sent[case]
    assert sent.answer.status_code == 200, sent.answer.text
    answer = sent.answer.json()
    # Answered in the ack itself: ephemeral (Slack's default for a slash command reply).
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert "Usage:" in answer["text"]
    assert len(all_text(answer)) < 600, all_text(answer)
    assert_inert(answer, case)
    assert_not_echoed(answer, echoes)
    # Nothing was said later through the response_url either, and Polytomic heard nothing.
    assert barrage.slack.responses(sent.response_url) == []
    assert barrage.polytomic_after_usage_and_clicks == [], describe(barrage.polytomic_after_usage_and_clicks)
    assert_nothing_changed(barrage, sent.user)


@pytest.mark.parametrize(("case", "kind", "text", "echoes"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_words_in_place_of_a_sync_find_no_sync_and_change_nothing(
    barrage: Barrage, case: str, kind: str, text: str, echoes: tuple[str, ...]
) -> None:
    sent = barrage.sent[case]
    assert sent.answer.status_code == 200, sent.answer.text
    later = barrage.slack.responses(sent.response_url)
    if sent.answer.content:  # refused as a usage error, in the ack: also fine
        answers = [sent.answer.json()]
        assert later == []
        assert "Usage:" in answers[0]["text"]
    else:
        answers = later
        assert len(answers) == 1, answers
        assert answers[0]["response_type"] == "ephemeral"
        assert "No sync" in answers[0]["text"], answers[0]["text"]
        assert_inert(answers[0], case)
    assert len(all_text(answers[0])) < 600
    assert_not_echoed(answers[0], echoes)
    # Polytomic was only read (the sync list), never written to.
    assert all(r.method == "GET" for r in barrage.polytomic.requests), describe(barrage.polytomic.requests)
    assert_nothing_changed(barrage, sent.user)


@pytest.mark.parametrize(("case", "template"), CLICKS, ids=[c[0] for c in CLICKS])
def test_bad_button_value_is_refused_and_changes_nothing(barrage: Barrage, case: str, template: str) -> None:
    sent = barrage.sent[f"click:{case}"]
    assert sent.answer.status_code == 200, sent.answer.text
    answers = barrage.slack.responses(sent.response_url)
    assert len(answers) == 1, answers
    assert "not valid" in answers[0]["text"]
    assert answers[0]["response_type"] == "ephemeral"
    assert_inert(answers[0], case)
    assert barrage.polytomic_after_usage_and_clicks == [], describe(barrage.polytomic_after_usage_and_clicks)
    assert_nothing_changed(barrage, sent.user)


def test_the_barrage_left_the_database_empty(barrage: Barrage) -> None:
    """Across every case together: no grant, no operation, no audit event, no Polytomic write."""
    for table in ("grants", "operations", "audit_events"):
        assert db_rows(barrage.db_path, f"SELECT * FROM {table}") == [], table  # noqa: S608
    assert all(r.method == "GET" for r in barrage.polytomic.requests)
    assert web_api_calls(barrage.slack) == []


def test_usage_and_help_answers_escape_their_own_placeholders(barrage: Barrage) -> None:
    url = barrage.slack.response_url("help")
    body = slash_command_body(text="help", user_id="UADMIN", channel_id="CGENERAL", response_url=url)
    assert barrage.bot.post(body).status_code == 200
    help_answer = wait_until(lambda: barrage.slack.responses(url), what="the help answer")[0]
    assert "/polytomic cancel" in all_text(help_answer)
    usage_answer = barrage.sent["cancel-missing-argument"].answer.json()
    assert "/polytomic cancel" in all_text(usage_answer)
    assert_inert(usage_answer, "usage")
    assert_inert(help_answer, "help")


def test_an_oversized_confirm_value_with_valid_ids_is_refused(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start_bot()
    sync = polytomic.add_sync(name="Contacts")
    execution = sync.start_execution()
    value = json.dumps({"s": sync.id, "e": execution.id, "pad": "x" * 2950})
    assert len(value) > 2000
    user = SlackUser(bot, slack, "UADMIN", "CGENERAL")
    click, url = user.click("cancel_confirm", value)
    assert click.status_code == 200
    wait_until(lambda: slack.responses(url) or polytomic.cancel_requests(sync.id), what="a reaction")
    settle(SETTLE)
    assert polytomic.cancel_requests(sync.id) == []
    assert db_rows(tmp_path / "bot.db", "SELECT count(*) FROM operations") == [(0,)]
    assert "not valid" in slack.responses(url)[0]["text"]


# ---- a hostile name from Polytomic, through the whole cancel ---------------------------

HOSTILE_NAME = "<!channel> *bold* <https://evil.example|click>"
HOSTILE_ERROR = "<!here> disk full, see <https://evil.example/fix|the runbook> & retry"


def test_hostile_sync_name_and_error_stay_inert_through_the_whole_cancel(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    bot = start_bot(INCIDENT_CHANNEL="CINCIDENT")
    admin = SlackUser(bot, slack, "UADMIN", "CGENERAL")
    named = polytomic.add_sync(name=HOSTILE_NAME)
    named.start_execution(cancel_delay=0.3)
    failing = polytomic.add_sync(name="<!everyone> orders")
    failing.start_execution(cancel_delay=0.3, cancel_outcome="failed", errors=[HOSTILE_ERROR])

    for sync, final in (
        (named, ": canceled after"),
        (failing, ": the run failed before it could be canceled"),
    ):
        ack, url = admin.command(f"cancel {sync.id}")
        assert ack.status_code == 200
        prompt = admin.answers(url)[0]
        assert_inert(prompt, "the prompt")
        # The name is shown, escaped, not dropped.
        assert "&lt;" in "".join(mrkdwn_strings(prompt))
        click, click_url = admin.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
        assert click.status_code == 200

        def status_message(sync: FakeSync = sync) -> Any:
            return message_about(slack, "CGENERAL", sync)

        wait_until(lambda final=final: final in status_message().text, 15, what=f"{final!r} in the status")
        # The text names the sync, escaped like the blocks (its `*` made look-alikes: name_text).
        escaped = escape(name_text(sync.name))
        assert escaped in status_message().text
        notice = wait_until(
            lambda sync=sync: message_about(slack, "CINCIDENT", sync, replies=False),
            what="the incident notice",
        )
        reply = wait_until(lambda notice=notice: slack.thread("CINCIDENT", notice.ts), what="the outcome")[0]
        for i, version in enumerate(status_message().versions):
            assert_inert(version, f"status message version {i}")
        for i, version in enumerate(notice.versions):
            assert_inert(version, f"incident notice version {i}")
        for i, version in enumerate(reply.versions):
            assert_inert(version, f"incident outcome version {i}")
        for answer in slack.responses(click_url):
            assert_inert(answer, "the answer to the click")

        # Afterwards, the sync's status and the "nothing to cancel" answer name it safely too.
        for text in (f"status {sync.id}", f"cancel {sync.id}"):
            _, later = admin.command(text)
            assert_inert(admin.answers(later)[0], text)

    assert "&lt;!here&gt; disk full" in all_text(message_about(slack, "CGENERAL", failing).latest)
    assert len(polytomic.cancel_requests(named.id)) == 1
    assert len(polytomic.cancel_requests(failing.id)) == 1
    # Nothing anywhere in Slack carried a live ping or link: check every message once more.
    for channel in ("CGENERAL", "CINCIDENT"):
        for message in slack.messages_in(channel, include_deleted=True):
            for version in message.versions:
                assert_inert(version, f"a message in {channel}")
    for answer in slack.responses():
        assert_inert(answer, "a response_url answer")
