"""The fake Slack, exercised through the real slack_sdk / slack_bolt clients over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.fakes.signing import (
    block_actions_body,
    post_signed,
    sign,
    slash_command_body,
)
from bot.fakes.slack import (
    IN_FLIGHT_GRACE,
    POST_MESSAGE_BURST,
    POST_MESSAGE_PER_SECOND,
    TIER_PER_MINUTE,
    FakeSlack,
    validate_blocks,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BUTTON_BLOCKS = [
    {"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "Cancel *sync-1*?"}},
    {
        "type": "actions",
        "block_id": "b",
        "elements": [
            {
                "type": "button",
                "action_id": "cancel",
                "text": {"type": "plain_text", "text": "Cancel"},
                "value": "sync-1",
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Sure?"},
                    "text": {"type": "mrkdwn", "text": "This stops the sync."},
                    "confirm": {"type": "plain_text", "text": "Yes"},
                    "deny": {"type": "plain_text", "text": "No"},
                },
            }
        ],
    },
]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack
        assert slack.internal_errors == []


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5)


def _error_of(exc_info: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc_info.value.response["error"])


# ---------------------------------------------------------------------- auth & protocol


def test_auth_test_identity_and_scopes_header(fake: FakeSlack, client: WebClient) -> None:
    resp = client.auth_test()
    assert resp.status_code == 200
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0TEST", "UBOT", "B0TEST")
    assert resp["url"].startswith("https://")
    assert (
        resp.headers["x-oauth-scopes"] == "commands,chat:write,chat:write.public,usergroups:read,users:read"
    )
    call = fake.last_call("auth.test")
    assert call.token == "xoxb-test-token"
    assert call.headers["Authorization"] == "Bearer xoxb-test-token"
    assert call.ok and call.status == 200


def test_wrong_or_missing_token(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(base_url=fake.api_url, token="xoxb-wrong").chat_postMessage(channel="C1", text="x")
    assert wrong.value.response.status_code == 200
    assert _error_of(wrong) == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake.api_url).auth_test()
    assert _error_of(missing) == "not_authed"
    assert fake.messages == {}
    assert [c.error for c in fake.requests] == ["invalid_auth", "not_authed"]


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.nonsense", json={"channel": "C1"})
    assert _error_of(exc) == "unknown_method"
    assert exc.value.response.status_code == 404


def test_form_json_get_and_token_field_are_all_parsed(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U1", "ada")
    # slack_sdk sends chat.postMessage as JSON...
    client.chat_postMessage(channel="C1", text="json", blocks=BUTTON_BLOCKS)
    json_call = fake.last_call("chat.postMessage")
    assert json_call.headers["Content-Type"].startswith("application/json")
    assert json_call.params["blocks"] == BUTTON_BLOCKS
    # ...and a form body with blocks as a JSON string is parsed too
    client.api_call(
        "chat.postMessage", params={"channel": "C1", "text": "form", "blocks": json.dumps(BUTTON_BLOCKS)}
    )
    form_call = fake.last_call("chat.postMessage")
    assert form_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_call.params["blocks"] == BUTTON_BLOCKS
    assert [m.blocks for m in fake.messages_in("C1")] == [BUTTON_BLOCKS, BUTTON_BLOCKS]
    # users.info goes as a form POST from slack_sdk; GET with query args and a token form field work
    assert client.users_info(user="U1")["user"]["name"] == "ada"
    got = httpx.get(fake.api_url + "users.info", params={"user": "U1", "token": fake.bot_token}).json()
    assert got["ok"] is True and got["user"]["id"] == "U1"
    posted = httpx.post(fake.api_url + "users.info", data={"user": "U1", "token": fake.bot_token}).json()
    assert posted["ok"] is True
    assert [c.http_method for c in fake.calls("users.info")] == ["POST", "GET", "POST"]
    assert all("token" not in c.params for c in fake.calls("users.info"))


# ---------------------------------------------------------------------- messages


def test_post_message_ts_unique_and_increasing(fake: FakeSlack, client: WebClient) -> None:
    sequential = [client.chat_postMessage(channel="C1", text=f"m{i}")["ts"] for i in range(5)]
    assert sequential == sorted(sequential, key=float)
    assert len(set(sequential)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in sequential)

    def post(i: int) -> str:
        return str(client.chat_postMessage(channel="C2", text=f"p{i}")["ts"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(post, range(40)))
    assert len(set(concurrent)) == 40
    assert fake.call_count("chat.postMessage") == 45
    assert len(fake.messages_in("C2")) == 40
    first = client.chat_postMessage(channel="C1", text="hello")
    assert first["channel"] == "C1"
    assert first["message"]["text"] == "hello" and first["message"]["user"] == "UBOT"
    msg = fake.message("C1", first["ts"])
    assert msg.text == "hello" and msg.versions[0]["thread_ts"] is None and not msg.deleted


def test_update_keeps_every_version(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="queued", blocks=BUTTON_BLOCKS)["ts"]
    client.chat_update(channel="C1", ts=ts, text="cancelling")
    resp = client.chat_update(channel="C1", ts=ts, text="cancelled", blocks=[])
    assert resp["ts"] == ts and resp["channel"] == "C1"
    msg = fake.message("C1", ts)
    assert [v["text"] for v in msg.versions] == ["queued", "cancelling", "cancelled"]
    assert msg.versions[1]["blocks"] == BUTTON_BLOCKS  # omitted blocks are retained
    assert msg.latest["blocks"] == [] and msg.edit_count == 2
    assert msg.versions[0]["time"] <= msg.versions[1]["time"] <= msg.versions[2]["time"]
    assert len(fake.messages_in("C1")) == 1

    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts="1.000001", text="x")
    assert _error_of(exc) == "message_not_found"
    with pytest.raises(SlackApiError) as other_channel:
        client.chat_update(channel="C2", ts=ts, text="x")
    assert _error_of(other_channel) == "message_not_found"


def test_thread_replies(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="status")["ts"]
    r1 = client.chat_postMessage(channel="C1", text="step 1", thread_ts=parent)
    r2 = client.chat_postMessage(channel="C1", text="step 2", thread_ts=parent)
    client.chat_postMessage(channel="C1", text="unrelated")
    assert r1["message"]["thread_ts"] == parent
    replies = fake.thread("C1", parent)
    assert [m.text for m in replies] == ["step 1", "step 2"]
    assert [m.ts for m in replies] == [r1["ts"], r2["ts"]]
    assert all(m.is_reply for m in replies)
    assert [m.text for m in fake.messages_in("C1")] == ["status", "step 1", "step 2", "unrelated"]


def test_channel_rules(client: WebClient, fake: FakeSlack) -> None:
    fake.add_channel("G1", "secret", is_private=True, is_member=False)
    fake.add_channel("C9", "outside", is_member=False)
    fake.add_channel("C8", "old", archived=True)
    fake.remove_channel("C404")

    for channel, error in [("G1", "not_in_channel"), ("C404", "channel_not_found"), ("C8", "is_archived")]:
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel=channel, text="x")
        assert _error_of(exc) == error, channel
    assert client.chat_postMessage(channel="C9", text="public, chat:write.public")["ok"]
    assert client.chat_postMessage(channel="#outside", text="by name")["channel"] == "C9"

    info = client.conversations_info(channel="C9")["channel"]
    assert (info["id"], info["name"], info["is_private"], info["is_member"]) == (
        "C9",
        "outside",
        False,
        False,
    )
    assert client.conversations_info(channel="CAUTO")["channel"]["is_member"] is True  # auto-created
    with pytest.raises(SlackApiError) as hidden:
        client.conversations_info(channel="G1")
    assert _error_of(hidden) == "channel_not_found"

    fake.set_channel("G1", is_member=True)  # after /invite
    assert client.chat_postMessage(channel="G1", text="now in")["ok"]

    fake.set_scopes("commands,chat:write")
    with pytest.raises(SlackApiError) as no_public:
        client.chat_postMessage(channel="C9", text="x")
    assert _error_of(no_public) == "not_in_channel"


def test_unknown_channels_without_auto_channels() -> None:
    with FakeSlack(auto_channels=False) as fake:
        client = WebClient(base_url=fake.api_url, token=fake.bot_token)
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="x")
        assert _error_of(exc) == "channel_not_found"
        fake.add_channel("C1", "ops")
        assert client.chat_postMessage(channel="C1", text="x")["ok"]


def test_ephemeral_and_delete(fake: FakeSlack, client: WebClient) -> None:
    resp = client.chat_postEphemeral(channel="C1", user="U7", text="only you", blocks=BUTTON_BLOCKS)
    (eph,) = fake.ephemerals
    assert (eph.channel, eph.user, eph.text, eph.message_ts) == ("C1", "U7", "only you", resp["message_ts"])
    assert eph["blocks"] == BUTTON_BLOCKS
    assert fake.messages == {}  # not a regular message: chat.update cannot touch it
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts=resp["message_ts"], text="x")
    assert _error_of(exc) == "message_not_found"

    ts = client.chat_postMessage(channel="C1", text="bye")["ts"]
    assert client.chat_delete(channel="C1", ts=ts)["ts"] == ts
    assert fake.message("C1", ts).deleted
    assert fake.messages_in("C1") == []
    assert len(fake.messages_in("C1", include_deleted=True)) == 1
    with pytest.raises(SlackApiError) as gone:
        client.chat_update(channel="C1", ts=ts, text="x")
    assert _error_of(gone) == "message_not_found"


def test_message_content_rules(client: WebClient, fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as no_text:
        client.api_call("chat.postMessage", json={"channel": "C1"})
    assert _error_of(no_text) == "no_text"
    long_button = json.loads(json.dumps(BUTTON_BLOCKS))
    long_button[1]["elements"][0]["text"]["text"] = "x" * 76
    long_button[1]["elements"][0]["confirm"]["title"]["text"] = "t" * 101
    with pytest.raises(SlackApiError) as invalid:
        client.chat_postMessage(channel="C1", text="x", blocks=long_button)
    assert _error_of(invalid) == "invalid_blocks"
    errors = invalid.value.response["errors"]
    assert any("/blocks/1/elements/0/text/text" in e for e in errors)
    assert any("/blocks/1/elements/0/confirm/title/text" in e for e in errors)
    assert validate_blocks(BUTTON_BLOCKS) == []
    assert fake.messages_in("C1") == []


# ---------------------------------------------------------------------- users & groups


def test_usergroups_and_users(fake: FakeSlack, client: WebClient) -> None:
    fake.add_usergroup("S1", "data-oncall", ["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    fake.set_usergroup_members("S1", ["U3"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U3"]
    with pytest.raises(SlackApiError) as unknown:
        client.usergroups_users_list(usergroup="S404")
    assert _error_of(unknown) == "no_such_subteam"
    fake.set_plan_upgrade_required()
    with pytest.raises(SlackApiError) as free:
        client.usergroups_users_list(usergroup="S1")
    assert _error_of(free) == "plan_upgrade_required"

    fake.add_user("U1", "ada", real_name="Ada Lovelace", is_admin=True)
    fake.add_user("U2", "guest", is_ultra_restricted=True, deleted=True)
    ada = client.users_info(user="U1")["user"]
    assert (ada["id"], ada["name"], ada["real_name"], ada["is_admin"], ada["is_owner"]) == (
        "U1",
        "ada",
        "Ada Lovelace",
        True,
        False,
    )
    assert ada["profile"] == {"display_name": "ada", "real_name": "Ada Lovelace"}
    guest = client.users_info(user="U2")["user"]
    assert guest["deleted"] and guest["is_ultra_restricted"] and not guest["is_restricted"]
    with pytest.raises(SlackApiError) as nobody:
        client.users_info(user="U404")
    assert _error_of(nobody) == "user_not_found"


def test_missing_scope(fake: FakeSlack, client: WebClient) -> None:
    fake.add_usergroup("S1", "ops", ["U1"])
    fake.set_scopes("commands,chat:write")
    with pytest.raises(SlackApiError) as exc:
        client.usergroups_users_list(usergroup="S1")
    assert _error_of(exc) == "missing_scope"
    assert exc.value.response["needed"] == "usergroups:read"


# ---------------------------------------------------------------------- faults


def test_inject_error_is_consumed_and_channel_scoped(fake: FakeSlack, client: WebClient) -> None:
    fake.inject_error("chat.postMessage", "not_in_channel", channel="C1")
    assert client.chat_postMessage(channel="C2", text="other channel")["ok"]
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert _error_of(exc) == "not_in_channel"
    assert client.chat_postMessage(channel="C1", text="again")["ok"]
    fake.inject_error("chat.update", "internal_error", times=2)
    ts = fake.messages_in("C1")[0].ts
    for _ in range(2):
        with pytest.raises(SlackApiError):
            client.chat_update(channel="C1", ts=ts, text="y")
    assert client.chat_update(channel="C1", ts=ts, text="y")["ok"]
    assert [c.error for c in fake.calls("chat.update")] == ["internal_error", "internal_error", None]


def test_rate_limit_is_a_429_with_retry_after(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="a")["ts"]
    fake.inject_rate_limit("chat.update", retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts=ts, text="b")
    response = exc.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert fake.message("C1", ts).edit_count == 0  # the rate-limited update did not land
    assert client.chat_update(channel="C1", ts=ts, text="b")["ok"]


def test_rate_limit_retry_handler_retries_and_succeeds(fake: FakeSlack) -> None:
    client = WebClient(
        base_url=fake.api_url,
        token=fake.bot_token,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    fake.inject_rate_limit("chat.postMessage", retry_after=0)
    started = time.monotonic()
    resp = client.chat_postMessage(channel="C1", text="eventually")
    assert resp["ok"] and resp.status_code == 200
    assert time.monotonic() - started < 3
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]
    assert len(fake.messages_in("C1")) == 1


def test_sliding_window_rate_limit_and_held_window(fake: FakeSlack, client: WebClient) -> None:
    fake.set_rate_limit("chat.postMessage", 2, per_seconds=60, per_channel=True)
    client.chat_postMessage(channel="C1", text="1")
    client.chat_postMessage(channel="C1", text="2")
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="3")
    assert exc.value.response.status_code == 429
    assert 55 <= int(exc.value.response.headers["Retry-After"]) <= 60
    assert client.chat_postMessage(channel="C2", text="other channel")["ok"]

    fake.rate_limit_for("users.info", 5)
    fake.add_user("U1")
    for _ in range(3):  # every caller inside the window gets a 429
        with pytest.raises(SlackApiError) as held:
            client.users_info(user="U1")
        assert held.value.response.headers["Retry-After"] in {"4", "5"}
    assert fake.call_count("users.info") == 3


def _limited(call: object) -> int:
    """The Retry-After of a call that must be answered 429."""
    with pytest.raises(SlackApiError) as exc:
        call()  # type: ignore[operator]
    assert exc.value.response.status_code == 429
    assert exc.value.response["error"] == "ratelimited"
    return int(exc.value.response.headers["Retry-After"])


def test_real_limits_post_message_one_a_second_per_channel_with_a_burst() -> None:
    with FakeSlack(real_limits=True) as fake:
        client = WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5)
        for i in range(POST_MESSAGE_BURST):  # a short burst is allowed...
            assert client.chat_postMessage(channel="C1", text=f"burst {i}")["ok"]
        # ...then about one a second: Retry-After is in whole seconds, as Slack sends it.
        assert _limited(lambda: client.chat_postMessage(channel="C1", text="too soon")) == 1
        assert client.chat_postMessage(channel="C2", text="another channel has its own")["ok"]
        time.sleep(1.05 / POST_MESSAGE_PER_SECOND)
        assert client.chat_postMessage(channel="C1", text="a second later")["ok"]
        assert _limited(lambda: client.chat_postMessage(channel="C1", text="too soon again")) == 1
        assert len(fake.messages_in("C1")) == POST_MESSAGE_BURST + 1  # refused posts did not land
        assert [c.status for c in fake.rate_limited] == [429, 429]


def test_real_limits_tiers_per_minute() -> None:
    with FakeSlack(real_limits=True) as fake:
        client = WebClient(base_url=fake.api_url, token=fake.bot_token, timeout=5)
        ts = client.chat_postMessage(channel="C1", text="x")["ts"]
        fake.add_usergroup("S1", "oncall", ["U1"])
        tier3, tier2 = TIER_PER_MINUTE["chat.update"], TIER_PER_MINUTE["usergroups.users.list"]
        assert (tier3, tier2) == (50, 20)
        for i in range(tier3):  # per method, whatever the channel
            client.chat_update(channel="C1", ts=ts, text=f"edit {i}")
        assert 58 <= _limited(lambda: client.chat_update(channel="C1", ts=ts, text="one more")) <= 60
        for _ in range(tier2):
            client.usergroups_users_list(usergroup="S1")
        assert _limited(lambda: client.usergroups_users_list(usergroup="S1")) >= 58
        assert fake.message("C1", ts).edit_count == tier3
        # A limit set by the test takes precedence over the real one; turning them off works.
        fake.set_rate_limit("users.info", 1, per_seconds=60)
        fake.add_user("U1")
        client.users_info(user="U1")
        _limited(lambda: client.users_info(user="U1"))
        fake.set_real_limits(False)
        assert not fake.real_limits
        client.chat_update(channel="C1", ts=ts, text="limits off")


def test_calls_inside_a_retry_after_window_are_recorded(fake: FakeSlack, client: WebClient) -> None:
    fake.inject_rate_limit("chat.postMessage", retry_after=2, channel="C1")
    fake.inject_rate_limit("chat.update", retry_after=0)  # no window at all
    _limited(lambda: client.chat_postMessage(channel="C1", text="refused"))
    assert client.chat_postMessage(channel="C2", text="another channel: not inside")["ok"]
    time.sleep(IN_FLIGHT_GRACE + 0.05)  # later than a call in flight when the 429 came
    assert client.chat_postMessage(channel="C1", text="inside the window")["ok"]
    ts = fake.messages_in("C2")[0].ts
    _limited(lambda: client.chat_update(channel="C2", ts=ts, text="x"))
    client.chat_update(channel="C2", ts=ts, text="x")
    [violation] = fake.window_violations
    assert (violation.method, violation.channel) == ("chat.postMessage", "C1")
    assert IN_FLIGHT_GRACE <= violation.time - violation.refused_at < 1.0
    assert violation.until - violation.refused_at == pytest.approx(2.0)
    assert "chat.postMessage to C1" in violation.describe()
    fake.clear_requests()
    assert fake.window_violations == []


def test_a_call_after_the_window_is_not_a_violation(fake: FakeSlack, client: WebClient) -> None:
    fake.inject_rate_limit("users.info", retry_after=1)
    fake.add_user("U1")
    _limited(lambda: client.users_info(user="U1"))
    time.sleep(1.05)
    client.users_info(user="U1")
    assert fake.window_violations == []


def test_latency(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U1")
    fake.set_latency("users.info", 0.3)
    started = time.monotonic()
    client.users_info(user="U1")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started < 0.3


# ---------------------------------------------------------------------- response_url


def test_response_url_via_webhook_client_and_5_use_limit(fake: FakeSlack) -> None:
    url = fake.response_url("slash")
    assert url.startswith(f"http://127.0.0.1:{fake.port}/response/")
    assert fake.response_url() != url
    webhook = WebhookClient(url)
    for i in range(5):
        resp = webhook.send(text=f"update {i}", response_type="ephemeral", replace_original=i > 0)
        assert (resp.status_code, resp.body) == (200, "ok")
    sixth = webhook.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")

    records = fake.responses(url)
    assert [r["text"] for r in records] == [f"update {i}" for i in range(5)]
    assert records[0]["response_type"] == "ephemeral"
    assert [r["replace_original"] for r in records] == [False, True, True, True, True]
    assert all(r["delete_original"] is False and r["label"] == "slash" for r in records)
    assert fake.response_url_uses(url) == 5
    assert [c.status for c in fake.calls("response_url")] == [200] * 5 + [404]

    unknown = WebhookClient(f"{fake.base_url}/response/nope").send(text="x")
    assert (unknown.status_code, unknown.body) == (404, "no_service")
    expired = fake.response_url()
    fake.expire_response_url(expired)
    assert WebhookClient(expired).send(text="late").body == "expired_url"


def test_response_url_failures_and_retry(fake: FakeSlack) -> None:
    url = fake.response_url()
    fake.inject_response_url_error(url, 500)
    fake.inject_response_url_error(url, 429, retry_after=3)
    webhook = WebhookClient(url)
    assert webhook.send(text="a").status_code == 500
    limited = webhook.send(text="b")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert webhook.send(text="c").status_code == 200
    assert [r["text"] for r in fake.responses(url)] == ["c"]
    assert fake.response_url_uses(url) == 1  # failures do not use up the url

    fake.inject_response_url_error(url, 429, retry_after=0)
    retrying = WebhookClient(url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert retrying.send(text="d").status_code == 200
    assert [r["text"] for r in fake.responses(url)] == ["c", "d"]


def test_response_url_replaces_or_deletes_the_clicked_message(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="Cancel sync-1?", blocks=BUTTON_BLOCKS)["ts"]
    click_url = fake.response_url("click", channel="C1", message_ts=ts)
    WebhookClient(click_url).send(text="Cancelling…", replace_original=True, blocks=[])
    msg = fake.message("C1", ts)
    assert [v["text"] for v in msg.versions] == ["Cancel sync-1?", "Cancelling…"]
    assert msg.versions[-1]["method"] == "response_url"
    WebhookClient(click_url).send_dict({"delete_original": True})
    assert fake.message("C1", ts).deleted
    assert fake.responses(click_url)[-1]["delete_original"] is True


# ---------------------------------------------------------------------- waiting & processes


def test_wait_for(fake: FakeSlack, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.15)
        client.chat_postMessage(channel="C1", text="done")

    threading.Thread(target=later, daemon=True).start()
    assert fake.wait_for(lambda s: s.messages_in("C1")[0].text == "done", timeout=5)

    with pytest.raises(AssertionError) as exc:
        fake.wait_for(lambda s: s.call_count("chat.update") > 0, timeout=0.1)
    text = str(exc.value)
    assert "chat.update" in text and "chat.postMessage" in text  # predicate + recent requests
    calls = fake.wait_for_calls("chat.postMessage", 1, timeout=1)
    assert calls[0].params["text"] == "done"


def test_separate_process_client(fake: FakeSlack) -> None:
    script = (
        "import sys\n"
        "from slack_sdk import WebClient\n"
        "from slack_sdk.webhook import WebhookClient\n"
        "c = WebClient(base_url=sys.argv[1], token='xoxb-test-token')\n"
        "ts = c.chat_postMessage(channel='C1', text='from child')['ts']\n"
        "c.chat_update(channel='C1', ts=ts, text='edited by child')\n"
        "print(WebhookClient(sys.argv[2]).send(text='child response').status_code)\n"
    )
    url = fake.response_url()
    out = subprocess.run(
        [sys.executable, "-c", script, fake.api_url, url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == "200"
    (msg,) = fake.messages_in("C1")
    assert [v["text"] for v in msg.versions] == ["from child", "edited by child"]
    assert fake.responses(url)[0]["text"] == "child response"


# ---------------------------------------------------------------------- signing


def test_sign_is_accepted_by_signature_verifier() -> None:
    body = slash_command_body(text="cancel sync-1", response_url="http://x/response/1")
    headers = sign(SECRET, body)
    assert headers["X-Slack-Signature"].startswith("v0=")
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert SignatureVerifier(SECRET).is_valid_request(body.decode(), sign(SECRET, body.decode()))
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert not SignatureVerifier(SECRET).is_valid_request(body + b"&x=1", headers)
    stale = sign(SECRET, body, timestamp=int(time.time()) - 301)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)
    recent = sign(SECRET, body, timestamp=int(time.time()) - 200)
    assert SignatureVerifier(SECRET).is_valid_request(body, recent)


def test_payload_builders() -> None:
    fields = {
        k: v[0]
        for k, v in parse_qs(
            slash_command_body(text="cancel <@U9|bob>", response_url="http://r").decode()
        ).items()
    }
    for key in (
        "team_id",
        "channel_id",
        "user_id",
        "command",
        "text",
        "response_url",
        "trigger_id",
        "api_app_id",
    ):
        assert fields[key], key
    assert (fields["command"], fields["text"], fields["user_id"]) == (
        "/polytomic",
        "cancel <@U9|bob>",
        "U123",
    )

    body = block_actions_body(
        user_id="U2",
        action_id="cancel",
        value="sync-1",
        channel_id="C1",
        message_ts="1.2",
        response_url="http://r",
    )
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U2"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.2",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["action_id"] == "cancel" and payload["actions"][0]["value"] == "sync-1"
    assert payload["actions"][0]["block_id"] == "b" and payload["actions"][0]["type"] == "button"
    assert payload["response_url"] == "http://r" and payload["team"]["id"] == "T0TEST"
    ephemeral = json.loads(
        parse_qs(
            block_actions_body(
                user_id="U2", action_id="a", value="v", channel_id="C1", response_url="http://r"
            ).decode()
        )["payload"][0]
    )
    assert ephemeral["container"]["is_ephemeral"] is True and "message" not in ephemeral


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_bolt_app_over_http_with_signed_requests(fake: FakeSlack) -> None:
    """post_signed -> Bolt (WSGI) -> FakeSlack: the fakes fit the real framework end to end."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    app = App(
        signing_secret=SECRET,
        client=WebClient(base_url=fake.api_url, token=fake.bot_token),
        process_before_response=True,
    )

    @app.command("/polytomic")
    def on_command(ack, body, respond, client):  # type: ignore[no-untyped-def]
        ack()
        respond(text=f"working on {body['text']}")
        client.chat_postMessage(channel=body["channel_id"], text="status", blocks=BUTTON_BLOCKS)

    @app.action("cancel")
    def on_click(ack, body, respond):  # type: ignore[no-untyped-def]
        ack()
        respond(replace_original=True, text=f"cancelled by <@{body['user']['id']}>")

    server: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        events = f"http://127.0.0.1:{server.server_port}/slack/events"
        cmd_url = fake.response_url("command")
        body = slash_command_body(text="cancel sync-1", channel_id="C5", response_url=cmd_url)
        assert post_signed(events, body, SECRET).status_code == 200
        assert fake.responses(cmd_url)[0]["text"] == "working on cancel sync-1"
        (status,) = fake.messages_in("C5")

        click_url = fake.response_url("click", channel="C5", message_ts=status.ts)
        click = block_actions_body(
            user_id="U9",
            action_id="cancel",
            value="sync-1",
            channel_id="C5",
            message_ts=status.ts,
            response_url=click_url,
        )
        assert post_signed(events, click, SECRET).status_code == 200
        assert fake.message("C5", status.ts).text == "cancelled by <@U9>"

        assert post_signed(events, body, "wrong-secret").status_code == 401
        stale = post_signed(events, body, SECRET, timestamp=int(time.time()) - 600)
        assert stale.status_code == 401
        assert fake.call_count("auth.test") == 1  # Bolt verified its token against the fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
