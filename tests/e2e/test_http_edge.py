"""The HTTP edge of /slack/events (issue 12, items 2 and 3 and the 500s for garbage), against the
real `polytomic-bot serve`: every valid command routes whatever its fields hold, garbage is
answered 400 or 401 without a traceback and changes nothing, Slack's `url_verification` and
events reach Bolt, refusals are counted by status, and no request body, response_url or secret
reaches the log, DEBUG included.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.fakes.signing import SLACK_USER_AGENT, block_actions_body, slash_command_body
from bot.fakes.slack import FakeSlack
from tests.harness import (
    BOT_TOKEN,
    POLYTOMIC_KEY,
    SIGNING_SECRET,
    BotProcess,
    all_text,
    base_env,
    button,
    db_rows,
    free_port,
    wait_until,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


# ---- one bot process for the tests that leave it as they found it --------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BotProcess, FakeSlack, FakePolytomic]]:
    """One `serve` process, and its fakes, for this module: starting one costs 5 to 8 s on a
    loaded machine. `bot` is this one; a test that counts refusals, reads a quiet log or needs
    other settings starts its own with `start_bot` (beside the same fakes)."""
    slack = FakeSlack().start()
    polytomic = FakePolytomic(api_key=POLYTOMIC_KEY).start()
    workdir = tmp_path_factory.mktemp("edge")
    env = base_env(slack, polytomic, f"sqlite:///{workdir / 'bot.db'}")
    bot = BotProcess("serve", env, workdir, free_port()).start()
    yield bot, slack, polytomic
    bot.stop()
    slack.stop()
    polytomic.stop()
    assert not slack.internal_errors, slack.internal_errors
    assert not slack.window_violations, [v.describe() for v in slack.window_violations]


@pytest.fixture
def slack(shared: tuple[BotProcess, FakeSlack, FakePolytomic]) -> FakeSlack:
    """The module's fake Slack, with no request recorded yet by this test."""
    shared[1].clear_requests()
    return shared[1]


@pytest.fixture
def polytomic(shared: tuple[BotProcess, FakeSlack, FakePolytomic]) -> FakePolytomic:
    shared[2].clear_requests()
    return shared[2]


@pytest.fixture
def bot(shared: tuple[BotProcess, FakeSlack, FakePolytomic]) -> BotProcess:
    return shared[0]


def sign_raw(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature over the raw bytes, even those that are not UTF-8 (which slack_sdk's
    generate_signature cannot take): v0= + HMAC-SHA256 of v0:{timestamp}:{body}."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}


def post(
    bot: BotProcess,
    body: bytes,
    *,
    content_type: str = FORM,
    secret: str | None = SIGNING_SECRET,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` as Slack would, signed with `secret` (unsigned when None)."""
    all_headers = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT}
    if secret is not None:
        all_headers.update(sign_raw(secret, body))
    all_headers.update(headers or {})
    return httpx.post(bot.url + "/slack/events", content=body, headers=all_headers, timeout=10)


def metric(bot: BotProcess, name: str) -> float:
    for line in httpx.get(bot.url + "/metrics", timeout=5).text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in /metrics")


def refused(bot: BotProcess, status: int) -> float:
    return metric(bot, f'polytomic_bot_http_refused_total{{status="{status}"}}')


# ---- item 3: the word "payload" anywhere in a slash command --------------------------------

FIELDS = {
    "channel name": {"channel_name": "payload-alerts"},
    "team domain": {"team_domain": "payload-inc"},
    "user name": {"user_name": "payload"},
    "text": {},  # the text itself is the command below
}


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_command_routes_whichever_field_holds_the_word_payload(
    field: str, bot: BotProcess, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    """Bolt's parse_body took any form body containing `payload` for interactivity and found no
    `payload=` field: the command got 404 "unhandled request". Each field Slack fills from what
    people named (a channel, a workspace, themselves) or typed can carry the word."""
    name = f"payload sync {field}"  # the fake is the module's: one sync of this name per case
    sync = polytomic.add_sync(name=name)
    sync.start_execution(cancel_delay=None)
    url = slack.response_url(field)
    text = f'cancel "{name}"' if field == "text" else f"cancel {sync.id}"
    body = slash_command_body(
        text=text, user_id="UADMIN", channel_id="CGENERAL", response_url=url, **FIELDS[field]
    )
    assert b"payload" in body
    answer = post(bot, body)
    assert answer.status_code == 200, answer.text
    prompt = wait_until(lambda: slack.responses(url), what="the cancel prompt")[0]
    assert name in all_text(prompt)
    assert json.loads(button(prompt, "cancel_confirm")["value"])["s"] == sync.id


def test_usage_answers_route_with_payload_in_every_field_at_once(bot: BotProcess, slack: FakeSlack) -> None:
    body = slash_command_body(
        text="payload payload=1 %payload",
        user_id="UADMIN",
        channel_id="CGENERAL",
        response_url=slack.response_url("all fields"),
        channel_name="payload",
        team_domain="payload",
        user_name="payload",
    )
    answer = post(bot, body)
    assert answer.status_code == 200, answer.text
    assert "Usage:" in answer.json()["text"]


# ---- garbage: 400 or 401, never a 500 or a traceback ---------------------------------------

DEEP = '{"a":' * 5000 + "1" + "}" * 5000
GARBAGE: dict[str, tuple[bytes, str]] = {
    "JSON content type, form body": (b"token=x&team_id=T1&command=%2Fpolytomic&text=help", JSON),
    "payload that is not JSON": (b"payload=not-json", FORM),
    "payload that is a JSON list": (b"payload=%5B1%2C2%5D", FORM),
    "JSON that is a string": (b'"hello"', JSON),
    "invalid UTF-8": (b"text=\xff\xfe\xfd&command=%2Fpolytomic", FORM),
    "invalid UTF-8 behind a percent sign": (b"text=%FF%FE&command=%2Fpolytomic", FORM),
    "deeply nested JSON": (DEEP.encode(), JSON),
    "deeply nested payload": (urlencode({"payload": DEEP}).encode(), FORM),
    "a number of 5000 digits": (b'{"type":"event_callback","n":' + b"9" * 5000 + b"}", JSON),
    "a field without =": (b"command=%2Fpolytomic&text", FORM),
    "a field twice": (b"command=%2Fpolytomic&text=help&text=cancel+x", FORM),
    "1000 fields": (b"&".join(b"f%d=1" % i for i in range(1000)), FORM),
    "no content type": (b"command=%2Fpolytomic&text=help", ""),
    "XML": (b"<payload/>", "text/xml"),
    "an empty body": (b"", FORM),
}


def test_garbage_is_400_when_signed_and_401_when_not_with_no_traceback(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic, tmp_path: Path
) -> None:
    bot = start_bot()
    statuses: dict[str, tuple[int, int]] = {}
    for case, (body, content_type) in GARBAGE.items():
        signed = post(bot, body, content_type=content_type)
        unsigned = post(bot, body, content_type=content_type, secret=None)
        statuses[case] = (signed.status_code, unsigned.status_code)
        assert signed.json() == {"error": "malformed request"}, case
    assert statuses == {case: (400, 401) for case in GARBAGE}, statuses
    # A malformed timestamp is refused before the verifier sees it (it raised on 5,000 digits).
    body = GARBAGE["payload that is not JSON"][0]
    headers = {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=" + "0" * 64}
    assert post(bot, body, secret=None, headers=headers).status_code == 400
    assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200
    logs = bot.logs()
    assert "Traceback" not in logs and '"exc"' not in logs
    assert not re.search(r'"level": "(error|critical)"', logs), logs[-2000:]
    assert refused(bot, 400) == len(GARBAGE) + 1
    assert refused(bot, 401) == len(GARBAGE)
    assert polytomic.requests == []
    assert [r for r in slack.requests if r.method != "auth.test"] == []
    assert db_rows(tmp_path, "SELECT count(*) FROM operations") == [(0,)]
    assert db_rows(tmp_path, "SELECT count(*) FROM audit_events") == [(0,)]


def test_a_bad_signature_is_refused_before_anything_reads_the_body(bot: BotProcess) -> None:
    """Unsigned, stale and wrong-secret requests get 401 whatever the body, including bodies
    that would not parse; signature headers that cannot be one (non-ASCII, too long) too."""
    bodies = [b"payload=%7B", b"x" * 100_000, DEEP.encode(), GARBAGE["1000 fields"][0]]
    for body in bodies:
        assert post(bot, body, secret=None).status_code == 401
        assert post(bot, body, secret="not-the-signing-secret-0123456789").status_code == 401
        stale = sign_raw(SIGNING_SECRET, body, timestamp=int(time.time()) - 600)
        assert post(bot, body, secret=None, headers=stale).status_code == 401
    # A body that is not UTF-8 cannot be verified (the verifier decodes it): 400 when it comes
    # with signature headers, 401 without.
    assert post(bot, b"\xff" * 1000, secret=None).status_code == 401
    assert post(bot, b"\xff" * 1000, secret="not-the-signing-secret-0123456789").status_code == 400
    now = str(int(time.time()))
    for signature in ("v0=" + "é" * 64, "v0=" + "0" * 5000):
        headers = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature}
        answer = httpx.post(
            bot.url + "/slack/events",
            content=b"text=x",
            headers={k: v.encode("utf-8") for k, v in headers.items()} | {"Content-Type": FORM},
            timeout=10,
        )
        assert answer.status_code == 401, signature[:10]
    assert "Traceback" not in bot.logs()


def test_only_post_is_served_on_slack_events(bot: BotProcess) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = httpx.request(method, bot.url + "/slack/events", timeout=5)
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "POST"


# ---- Slack's other requests reach Bolt -----------------------------------------------------


def test_url_verification_and_events_reach_bolt(start_bot: Any) -> None:
    bot = start_bot()  # its own: it counts the refusals
    challenge = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    body = json.dumps(challenge).encode()
    answer = post(bot, body, content_type=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"challenge": challenge["challenge"]}
    assert post(bot, body, content_type=JSON, secret=None).status_code == 401
    # An Events API callback is Bolt's to route: for one no listener takes (a reaction), Bolt
    # answers its "unhandled request", not the edge a refusal.
    event = {
        "token": "x",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": "Ev01",
        "event_time": int(time.time()),
        "event": {
            "type": "reaction_added",
            "user": "UADMIN",
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C01", "ts": "1.2"},
        },
        "authorizations": [{"team_id": "T0TEST", "user_id": "UBOT", "is_bot": True}],
    }
    answer = post(bot, json.dumps(event).encode(), content_type=JSON + "; charset=utf-8")
    assert answer.status_code == 404 and "unhandled request" in answer.text, answer.text
    assert refused(bot, 400) == 0


# ---- what reaches the log ------------------------------------------------------------------


def test_no_body_response_url_or_secret_reaches_the_log_at_debug(
    start_bot: Any, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    """At LOG_LEVEL=DEBUG: a junk body, a command signed with a wrong secret (just after a
    rotation, say: its response_url is a 30-minute capability), and ordinary commands and a
    confirm click, answered through their response_urls. None of their bodies, response_urls or
    the bot's secrets may appear in the log; a refusal is one short line."""
    bot = start_bot(LOG_LEVEL="DEBUG", INCIDENT_CHANNEL="CINCIDENT")
    sync = polytomic.add_sync(name="Logged")
    sync.start_execution(cancel_delay=0.3)
    junk = b"JUNKMARKER" + b"j" * 50_000
    assert post(bot, junk, secret=None).status_code == 401
    assert post(bot, junk, secret="not-the-signing-secret-0123456789").status_code == 401
    rotated_url = slack.response_url("rotated")
    rotated = slash_command_body(
        text="cancel ROTATEDMARKER", user_id="UADMIN", channel_id="CGENERAL", response_url=rotated_url
    )
    assert post(bot, rotated, secret="the-previous-signing-secret-xyz").status_code == 401
    assert post(bot, b"payload=%7BBADJSONMARKER").status_code == 400

    urls = []
    for text in ("grants", f"cancel {sync.id}"):
        url = slack.response_url(text)
        urls.append(url)
        body = slash_command_body(text=text, user_id="UADMIN", channel_id="CGENERAL", response_url=url)
        assert post(bot, body).status_code == 200
    prompt = wait_until(lambda: slack.responses(urls[1]), what="the prompt")[0]
    click_url = slack.response_url("click")
    urls.append(click_url)
    click = block_actions_body(
        user_id="UADMIN",
        action_id="cancel_confirm",
        value=button(prompt, "cancel_confirm")["value"],
        channel_id="CGENERAL",
        response_url=click_url,
    )
    assert post(bot, click).status_code == 200
    wait_until(lambda: polytomic.effective_cancels(sync.id) == 1, what="the cancel")
    wait_until(lambda: slack.responses(click_url), what="the prompt removed")
    wait_until(lambda: len(slack.messages_in("CINCIDENT")) >= 1, what="the incident notice")
    bot.stop()

    logs = bot.logs()
    assert '"level": "debug"' in logs, "LOG_LEVEL=DEBUG logs nothing at DEBUG: the test would prove nothing"
    forbidden = {
        "junk body": "JUNKMARKER",
        "wrong-secret body": "ROTATEDMARKER",
        "malformed body": "BADJSONMARKER",
        "signing secret": SIGNING_SECRET,
        "bot token": BOT_TOKEN,
        "Polytomic key": POLYTOMIC_KEY,
        "trigger_id or body fields": "trigger_id",
    }
    forbidden |= {f"response_url {i}": url for i, url in enumerate([rotated_url, *urls])}
    # Each one's unique last part, which is there however the URL was encoded.
    ids = [url.rsplit("/", 1)[1] for url in [rotated_url, *urls]]
    forbidden |= {f"response_url id {i}": rid for i, rid in enumerate(ids)}
    leaks = [label for label, text in forbidden.items() if text in logs]
    assert leaks == [], leaks
    refusals = [line for line in logs.splitlines() if "refused request" in line]
    assert len(refusals) == 4 and all(len(line) < 300 for line in refusals), refusals
