"""bot/edge.py in process: the body parser (pure), and the edge in front of a real Bolt app,
called as a WSGI app (no server): what reaches Bolt, and what counts for the answers' gate."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult

from bot.edge import MAX_JSON_DEPTH, Refused, SlackEdge, parse_body
from bot.fakes.signing import sign, slash_command_body

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


# ---- parse_body ----------------------------------------------------------------------------


def test_a_slash_command_is_its_fields_whatever_they_hold() -> None:
    body = slash_command_body(
        text='cancel "payload sync"',
        response_url="https://hooks.slack.com/commands/T/1/x",
        channel_name="payload",
    ).decode()
    fields = parse_body(body, FORM)
    assert fields["text"] == 'cancel "payload sync"'
    assert fields["channel_name"] == "payload"
    assert fields["command"] == "/polytomic"


def test_interactivity_is_its_payload() -> None:
    payload = {"type": "block_actions", "actions": [{"value": "payload=1&x"}]}
    assert parse_body(urlencode({"payload": json.dumps(payload)}), FORM) == payload


def test_json_is_an_object() -> None:
    assert parse_body('{"type": "url_verification", "challenge": "c"}', JSON) == {
        "type": "url_verification",
        "challenge": "c",
    }


def nested(depth: int) -> str:
    return '{"a":' * (depth - 1) + "[]" + "}" * (depth - 1)


def test_json_may_nest_as_deep_as_slack_does_and_no_deeper() -> None:
    assert parse_body(nested(MAX_JSON_DEPTH), JSON)
    with pytest.raises(Refused) as refused:
        parse_body(nested(MAX_JSON_DEPTH + 1), JSON)
    assert (refused.value.status, refused.value.reason) == (400, "JSON nested too deep")


@pytest.mark.parametrize(
    ("text", "content_type", "reason"),
    [
        ("", FORM, "empty body"),
        ("a=1", "text/plain", "unsupported content type"),
        ("a=1", "", "unsupported content type"),
        ("token=x&text=help", JSON, "malformed JSON"),
        ("[1, 2]", JSON, "JSON is not an object"),
        ("1" * 5000, JSON, "malformed JSON"),
        ("[" * 100_000, JSON, "malformed JSON"),
        ("payload=not-json", FORM, "malformed JSON"),
        ("payload=%5B%5D", FORM, "JSON is not an object"),
        ("text=%FF", FORM, "malformed form"),
        ("text", FORM, "malformed form"),
        ("&".join(f"f{i}=1" for i in range(100)), FORM, "malformed form"),
        ("text=a&text=b", FORM, "repeated form field"),
    ],
)
def test_what_slack_never_sends_is_400(text: str, content_type: str, reason: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_body(text, content_type)
    assert (refused.value.status, refused.value.reason) == (400, reason)


# ---- the edge in front of Bolt -------------------------------------------------------------


def environ(body: bytes, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": headers.pop("Content-Type", FORM),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


class Edge:
    """A bare Bolt app behind the edge, with a gate that counts who enters it."""

    def __init__(self) -> None:
        self.gated = 0
        self.refused: list[int] = []
        self.lazy_bodies: list[dict[str, Any]] = []
        self.lazy_done = threading.Event()
        app = App(
            signing_secret="",
            request_verification_enabled=False,
            authorize=lambda **kw: AuthorizeResult(
                enterprise_id=None, team_id=kw.get("team_id"), user_id=None, bot_token="xoxb-x"
            ),
            process_before_response=True,
        )

        def lazy(body: dict[str, Any]) -> None:
            self.lazy_bodies.append(body)
            self.lazy_done.set()

        def ack_it(ack: Ack, body: dict[str, Any]) -> None:
            ack(text=f"text was {body['text']}")

        app.command("/polytomic")(ack=ack_it, lazy=[lazy])
        self.edge = SlackEdge(app, SECRET, on_refused=self.refused.append, while_handling=self.gate)

    @contextmanager
    def gate(self) -> Iterator[None]:
        self.gated += 1
        yield

    def call(self, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[str, bytes]:
        answer: list[str] = []
        chunks = self.edge(
            environ(body, dict(headers), method), lambda status, _headers: answer.append(status)
        )
        return answer[0], b"".join(chunks)


def command(text: str) -> bytes:
    return slash_command_body(text=text, response_url="https://hooks.slack.com/commands/T/1/x")


def test_only_verified_requests_make_answers_wait() -> None:
    edge = Edge()
    body = command("help")
    malformed = {"X-Slack-Request-Timestamp": "x" * 30, "X-Slack-Signature": "v0=00"}
    for headers in ({}, sign("another-secret-0123456789", body), malformed):
        status, _ = edge.call(body, {"Content-Type": FORM, **headers})
        assert status.startswith(("400", "401")), status
    assert edge.gated == 0
    assert edge.refused == [401, 401, 400]
    status, _ = edge.call(body, {"Content-Type": FORM, **sign(SECRET, body)})
    assert status == "200 OK"
    assert edge.gated == 1


def test_bolt_gets_the_parsed_body_and_so_does_a_lazy_listener() -> None:
    edge = Edge()
    body = command("cancel payload=1 payload")
    status, answer = edge.call(body, {"Content-Type": FORM, **sign(SECRET, body)})
    assert status == "200 OK", answer
    assert answer == b"text was cancel payload=1 payload"
    assert edge.lazy_done.wait(5)
    assert edge.lazy_bodies[0]["text"] == "cancel payload=1 payload"


def test_bolts_lazy_only_headers_cannot_be_sent_by_a_client() -> None:
    """x-slack-bolt-lazy-only would make Bolt skip the ack listener; it is not signed."""
    edge = Edge()
    body = command("help")
    headers = {"Content-Type": FORM, "X-Slack-Bolt-Lazy-Only": "1", **sign(SECRET, body)}
    status, answer = edge.call(body, headers)
    assert status == "200 OK" and b"text was help" in answer


def test_a_declared_body_over_the_cap_is_not_read() -> None:
    edge = Edge()
    env = environ(b"", {"Content-Type": FORM})
    env["CONTENT_LENGTH"] = str(10**7)

    class Unreadable(io.BytesIO):
        def read(self, *_: Any) -> bytes:
            raise AssertionError("the body was read")

    env["wsgi.input"] = Unreadable()
    statuses: list[str] = []
    edge.edge(env, lambda status, _headers: statuses.append(status))
    assert statuses == ["413 Request Entity Too Large"]
    assert edge.refused == [413]
