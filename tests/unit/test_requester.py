"""`Requester.from_context`: the one way a command and a click say who asked, read from the
context Bolt builds for the request (its own parsing, here through a real BoltRequest) and the
body's response_url. No server: BoltRequest parses the body as Bolt's adapters do."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest

from bot.answers import Requester
from bot.fakes.signing import block_actions_body, block_actions_payload, slash_command_body

URL = "https://hooks.slack.test/commands/T0TEST/1/abc"


def requester(raw: bytes) -> Requester | None:
    request = BoltRequest(body=raw.decode(), headers={"content-type": ["application/x-www-form-urlencoded"]})
    return Requester.from_context(request.context, request.body)


def click(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_command_and_a_click_give_the_same_requester() -> None:
    command = slash_command_body(text="help", response_url=URL, user_id="U1", channel_id="C1", team_id="T1")
    button = block_actions_body(
        user_id="U1", action_id="cancel_dismiss", value="x", channel_id="C1", response_url=URL, team_id="T1"
    )
    expected = Requester(user_id="U1", channel_id="C1", response_url=URL, team_id="T1")
    assert requester(command) == expected
    assert requester(button) == expected


def test_a_click_on_an_ephemeral_message_may_name_its_channel_only_in_its_container() -> None:
    payload = block_actions_payload(
        user_id="U1", action_id="cancel_dismiss", value="x", channel_id="C1", response_url=URL
    )
    del payload["channel"]
    found = requester(click(payload))
    assert found is not None and found.channel_id == "C1"


def test_a_team_is_optional() -> None:
    payload = block_actions_payload(
        user_id="U1", action_id="cancel_dismiss", value="x", channel_id="C1", response_url=URL, team_id=None
    )
    found = requester(click(payload))
    assert found is not None and found.team_id is None


@pytest.mark.parametrize(
    "change",
    [
        {"user": None},
        {"user": {"id": "not a user"}},
        {"user": {"id": "<!channel>"}},
        {"channel": {"id": "c1 lower"}, "container": {}},
        {"channel": None, "container": {}},
        {"response_url": None},
        {"response_url": 17},
    ],
)
def test_a_payload_without_a_real_user_channel_or_response_url_has_no_requester(
    change: dict[str, Any],
) -> None:
    payload = block_actions_payload(
        user_id="U1", action_id="cancel_dismiss", value="x", channel_id="C1", response_url=URL
    )
    payload.update(change)
    assert requester(click(payload)) is None


def test_a_command_without_a_response_url_has_no_requester() -> None:
    raw = slash_command_body(text="help", response_url=URL).replace(b"response_url=", b"response_urx=")
    assert requester(raw) is None
