"""Requests Slack did not sign, or signed for another moment, never reach the bot's logic.

Every rejected request is one that WOULD have had an effect: the same body, correctly signed,
is sent last and does reach Polytomic. So a 401 here is the signature check at work, and "no
side effect" is checked against the fakes (Polytomic, Slack Web API, response_url) and the
bot's own SQLite file, opened read-only.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.fakes.polytomic import FakeExecution, FakePolytomic, FakeSync
from bot.fakes.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    block_actions_body,
    sign,
    slash_command_body,
)
from bot.fakes.slack import FakeSlack
from tests.harness import POLYTOMIC_KEY, SIGNING_SECRET, BotProcess, base_env, button, free_port, wait_until

SETTLE = 1.0  # seconds to wait after the last request before asserting that nothing happened
FORM = "application/x-www-form-urlencoded"
STALE = 6 * 60  # seconds: more than Slack's (and Bolt's) 5-minute window


# ---- helpers ---------------------------------------------------------------------------


def db_count(db_path: Path, table: str) -> int:
    """Rows in one of the bot's tables, read through a read-only connection."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def post_raw(
    bot: BotProcess, body: bytes, headers: dict[str, str], path: str = "/slack/events"
) -> httpx.Response:
    return httpx.post(bot.url + path, content=body, headers={"Content-Type": FORM, **headers}, timeout=10)


def bad_requests(body: bytes, tampered: bytes) -> list[tuple[str, bytes, dict[str, str]]]:
    """(label, body, headers) for every way a request can fail the signature check."""
    now = int(time.time())
    good = sign(SIGNING_SECRET, body)
    return [
        ("unsigned", body, {}),
        ("signature, no timestamp", body, {SIGNATURE_HEADER: good[SIGNATURE_HEADER]}),
        ("timestamp, no signature", body, {TIMESTAMP_HEADER: good[TIMESTAMP_HEADER]}),
        ("empty signature", body, {TIMESTAMP_HEADER: good[TIMESTAMP_HEADER], SIGNATURE_HEADER: ""}),
        ("garbage signature", body, {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: "v0=" + "0" * 64}),
        ("v1 scheme", body, {**good, SIGNATURE_HEADER: good[SIGNATURE_HEADER].replace("v0=", "v1=")}),
        ("wrong secret", body, sign("not-the-signing-secret-0123456789", body)),
        ("secret with a trailing space", body, sign(SIGNING_SECRET + " ", body)),
        ("tampered body", tampered, sign(SIGNING_SECRET, body)),
        ("body with a byte appended", body + b"&x=1", good),
        ("signature of another timestamp", body, {**good, TIMESTAMP_HEADER: str(now - 1)}),
        ("stale: 6 minutes old", body, sign(SIGNING_SECRET, body, timestamp=now - STALE)),
        ("stale: 5.5 minutes old", body, sign(SIGNING_SECRET, body, timestamp=now - 330)),
        ("stale: a day old", body, sign(SIGNING_SECRET, body, timestamp=now - 86_400)),
        ("future: 6 minutes ahead", body, sign(SIGNING_SECRET, body, timestamp=now + STALE)),
        # (30 s of margin: these are signed before the first request of the batch goes out)
        ("future: 5.5 minutes ahead", body, sign(SIGNING_SECRET, body, timestamp=now + 330)),
    ]


def assert_untouched(
    slack: FakeSlack, polytomic: FakePolytomic, db_path: Path, response_urls: list[str]
) -> None:
    """Nothing reached Polytomic or Slack, and the bot wrote nothing to its database."""
    assert polytomic.requests == [], [f"{r.method} {r.path}" for r in polytomic.requests]
    assert slack.requests == [], slack.describe_requests()
    for url in response_urls:
        assert slack.responses(url) == []
    assert db_count(db_path, "operations") == 0
    assert db_count(db_path, "audit_events") == 0
    assert db_count(db_path, "grants") == 0


# ---- the two kinds of request Slack sends --------------------------------------------------


def command_bodies(slack: FakeSlack, sync: FakeSync, _execution: FakeExecution) -> tuple[bytes, bytes, str]:
    """`/polytomic cancel <sync>` by a bot admin, and the same with its text tampered."""
    response_url = slack.response_url("command")
    body = slash_command_body(
        text=f"cancel {sync.id}", user_id="UADMIN", channel_id="CGENERAL", response_url=response_url
    )
    tampered = body.replace(b"text=cancel", b"text=status")
    assert tampered != body
    return body, tampered, response_url


def click_bodies(slack: FakeSlack, sync: FakeSync, execution: FakeExecution) -> tuple[bytes, bytes, str]:
    """A confirm click on the running execution by a bot admin; tampered: another clicker."""
    response_url = slack.response_url("click")
    value = json.dumps({"s": sync.id, "e": execution.id}, separators=(",", ":"))
    fields: dict[str, Any] = {
        "action_id": "cancel_confirm",
        "value": value,
        "channel_id": "CGENERAL",
        "response_url": response_url,
    }
    body = block_actions_body(user_id="UADMIN", **fields)
    # Same payload, but the clicker swapped: an attacker replaying an admin's click as theirs.
    tampered = body.replace(b"UADMIN", b"UEVIL01")
    assert tampered != body
    return body, tampered, response_url


def command_took_effect(slack: FakeSlack, polytomic: FakePolytomic, sync: FakeSync, url: str) -> None:
    prompt = wait_until(lambda: slack.responses(url), what="the cancel prompt")[0]
    assert button(prompt, "cancel_confirm")["value"]
    assert polytomic.requests_to("GET", rf"/api/syncs/{sync.id}")


def click_took_effect(slack: FakeSlack, polytomic: FakePolytomic, sync: FakeSync, url: str) -> None:
    wait_until(lambda: len(polytomic.cancel_requests(sync.id)) == 1, what="the cancel to reach Polytomic")
    wait_until(lambda: slack.messages_in("CGENERAL"), what="the channel status message")


KINDS: dict[str, tuple[Callable[..., tuple[bytes, bytes, str]], Callable[..., None]]] = {
    "slash_command": (command_bodies, command_took_effect),
    "confirm_click": (click_bodies, click_took_effect),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_badly_signed_requests_are_401_and_change_nothing(
    kind: str, start_bot, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    make_bodies, took_effect = KINDS[kind]
    bot = start_bot()
    sync = polytomic.add_sync(name="Contacts to Salesforce")
    execution = sync.start_execution(cancel_delay=0.3)
    db_path = tmp_path / "bot.db"
    assert slack.requests == [] and polytomic.requests == []  # start-up itself calls nobody

    body, tampered, response_url = make_bodies(slack, sync, execution)
    for label, raw, headers in bad_requests(body, tampered):
        answer = post_raw(bot, raw, headers)
        assert answer.status_code == 401, f"{label}: {answer.status_code} {answer.text[:200]}"
        assert answer.json() == {"error": "invalid request"}, label

    time.sleep(SETTLE)  # settle: give anything that wrongly started time to show
    assert_untouched(slack, polytomic, db_path, [response_url])
    assert execution.is_active and not execution.cancel_requested

    # For contrast: the very same body, signed now with the right secret, is accepted and acts.
    answer = bot.post(body)
    assert answer.status_code == 200, answer.text
    took_effect(slack, polytomic, sync, response_url)


def test_a_recent_timestamp_inside_the_window_is_accepted(start_bot, slack: FakeSlack) -> None:
    """The 5-minute window is a window, not "now only": 4 minutes of clock skew still works."""
    bot = start_bot()
    for skew in (-240, 240):
        url = slack.response_url(f"skew {skew}")
        body = slash_command_body(text="grants", user_id="UADMIN", channel_id="CGENERAL", response_url=url)
        answer = post_raw(bot, body, sign(SIGNING_SECRET, body, timestamp=int(time.time()) + skew))
        assert answer.status_code == 200, (skew, answer.text)
        listing = wait_until(lambda url=url: slack.responses(url), what="the grants listing")[0]
        assert "Permissions" in listing["text"]


Idle = tuple[BotProcess, FakeSlack, FakePolytomic]


@pytest.fixture(scope="module")
def idle_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idle]:
    """One `serve` process, with fakes of its own, for the two tests that only ask it for paths
    and change nothing (starting one costs 5 to 8 s on a loaded machine)."""
    with FakeSlack() as slack, FakePolytomic(api_key=POLYTOMIC_KEY) as polytomic:
        workdir = tmp_path_factory.mktemp("idle")
        env = base_env(slack, polytomic, f"sqlite:///{workdir / 'bot.db'}")
        bot = BotProcess("serve", env, workdir, free_port()).start()
        yield bot, slack, polytomic
        bot.stop()
        assert not slack.internal_errors, slack.internal_errors
        assert not slack.window_violations, [v.describe() for v in slack.window_violations]


def test_health_and_unknown_paths(idle_bot: Idle) -> None:
    bot, slack, polytomic = idle_bot  # nothing cleared: nobody, the other test included, called them
    assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200
    for path in ("/nope", "/slack", "/slack/event", "/slack/events/extra", "/healthz/x", "/.env", "/%2e%2e/"):
        answer = httpx.get(bot.url + path, timeout=5)
        assert answer.status_code == 404, (path, answer.status_code)
    assert polytomic.requests == []
    assert slack.requests == []


def test_post_to_an_unknown_path_is_404(idle_bot: Idle) -> None:
    bot = idle_bot[0]
    for path in ("/nope", "/slack/events/extra", "/slack/command"):
        answer = httpx.post(bot.url + path, content=b"x=1", headers={"Content-Type": FORM}, timeout=5)
        assert answer.status_code == 404, (path, answer.status_code)


def test_a_malformed_timestamp_header_is_refused(
    start_bot, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    """An empty timestamp is no signature (401); one that cannot be Unix seconds is a malformed
    request (400), refused before the verifier sees it (5,000 digits made it raise: a 500)."""
    bot = start_bot()
    sync = polytomic.add_sync(name="Contacts")
    execution = sync.start_execution()
    body, _, response_url = click_bodies(slack, sync, execution)
    good = sign(SIGNING_SECRET, body)
    statuses = {}
    malformed = ("abc", f"{time.time():.3f}", "1e9", "0x10", "-0", "1_000", "+1", "9" * 5000)
    for timestamp in ("", *malformed):
        answer = post_raw(bot, body, {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: good[SIGNATURE_HEADER]})
        statuses[timestamp[:20]] = answer.status_code
    time.sleep(SETTLE)
    assert_untouched(slack, polytomic, tmp_path / "bot.db", [response_url])
    assert statuses == {"": 401} | {t[:20]: 400 for t in malformed}, statuses
    assert "Traceback" not in bot.logs()


# ---- the ack path of a correctly signed request ------------------------------------------


def test_the_first_request_is_acked_within_3_s_while_the_slack_api_is_slow(
    start_bot, slack: FakeSlack
) -> None:
    bot = start_bot()
    slack.set_latency("auth.test", 3.5)
    # A command the listener answers in the ack itself: nothing of the bot's own is slow.
    url = slack.response_url("usage")
    body = slash_command_body(text="frobnicate", user_id="UADMIN", channel_id="CGENERAL", response_url=url)
    started = time.monotonic()
    answer = bot.post(body)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert "Usage:" in answer.text
    assert elapsed < 3.0, f"acked after {elapsed:.1f} s"


def test_a_failing_auth_test_does_not_stop_the_bot_from_answering(start_bot, slack: FakeSlack) -> None:
    bot = start_bot()
    slack.inject_rate_limit("auth.test", retry_after=30, times=1)
    url = slack.response_url("usage")
    body = slash_command_body(text="frobnicate", user_id="UADMIN", channel_id="CGENERAL", response_url=url)
    answer = bot.post(body)
    assert answer.status_code == 200
    assert "Usage:" in answer.text, answer.text
