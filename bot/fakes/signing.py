"""Sign and build requests the way Slack sends them to the bot's ``/slack/events``.

    body = slash_command_body(text="cancel sync-1", response_url=slack.response_url())
    resp = post_signed(f"{bot_url}/slack/events", body, SIGNING_SECRET)

Signatures are computed with ``slack_sdk.signature.SignatureVerifier.generate_signature``:
``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "app_home_opened",
    "block_actions_body",
    "block_actions_payload",
    "home_block_actions_payload",
    "make_trigger_id",
    "payload_body",
    "post_signed",
    "sign",
    "slash_command_body",
    "view_submission_payload",
]

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for ``body``; ``timestamp`` defaults to now (Unix seconds).

    An empty/blank ``secret`` (which SignatureVerifier refuses) is signed with a plain HMAC so
    tests can still send requests to a misconfigured bot.
    """
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    if secret.strip():
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        if signature is None:  # pragma: no cover - only when timestamp is None
            raise ValueError("could not sign the request")
    else:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        digest = hmac.new(secret.encode("utf-8"), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
        signature = "v0=" + digest.hexdigest()
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature}


def make_trigger_id() -> str:
    """A realistic-looking trigger_id, e.g. ``1700000000.1234567890.3b1e...``."""
    return f"{int(time.time())}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def slash_command_body(
    *,
    text: str,
    response_url: str,
    user_id: str = "U123",
    channel_id: str = "C123",
    command: str = "/polytomic",
    team_id: str = "T0TEST",
    user_name: str = "tester",
    trigger_id: str | None = None,
    channel_name: str = "general",
    team_domain: str = "fake-team",
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
    api_app_id: str = "A0TEST",
    token: str = "verification-token",  # noqa: S107
    is_enterprise_install: bool = False,
) -> bytes:
    """A slash command payload, form-encoded as Slack sends it.

    ``enterprise_id``/``enterprise_name`` are only present when given (Enterprise Grid), as
    in real payloads from standalone workspaces.
    """
    fields: dict[str, str] = {"token": token, "team_id": team_id, "team_domain": team_domain}
    if enterprise_id is not None:
        fields["enterprise_id"] = enterprise_id
        fields["enterprise_name"] = enterprise_name or "Fake Enterprise"
    fields.update(
        {
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "true" if is_enterprise_install else "false",
            "response_url": response_url,
            "trigger_id": trigger_id or make_trigger_id(),
        }
    )
    return urlencode(fields).encode("utf-8")


def block_actions_payload(
    *,
    user_id: str,
    action_id: str,
    value: str,
    channel_id: str,
    response_url: str,
    message_ts: str | None = None,
    block_id: str = "b",
    team_id: str | None = "T0TEST",
    user_name: str = "tester",
    ephemeral: bool | None = None,
    message: Mapping[str, Any] | None = None,
    channel_name: str = "general",
    team_domain: str = "fake-team",
    enterprise_id: str | None = None,
    api_app_id: str = "A0TEST",
    token: str = "verification-token",  # noqa: S107
    trigger_id: str | None = None,
    action_text: str = "Button",
    action_ts: str | None = None,
    style: str | None = None,
) -> dict[str, Any]:
    """The block_actions payload as a dict (see :func:`block_actions_body`)."""
    is_ephemeral = (message_ts is None) if ephemeral is None else ephemeral
    if message_ts is None:
        # Ephemeral messages carry a message_ts too (one chat.update cannot use).
        message_ts = _action_ts()
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_text, "emoji": True},
        "value": value,
        "type": "button",
        "action_ts": action_ts or _action_ts(),
    }
    if style is not None:
        action["style"] = style
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        # Slack sends type "message" for ephemeral messages too, flagged by is_ephemeral.
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or make_trigger_id(),
        "team": {"id": team_id, "domain": team_domain} if team_id is not None else None,
        "enterprise": {"id": enterprise_id, "name": "Fake Enterprise"} if enterprise_id else None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if not is_ephemeral:
        payload["message"] = (
            dict(message)
            if message is not None
            else {"type": "message", "subtype": "bot_message", "ts": message_ts, "text": "", "blocks": []}
        )
    return payload


def block_actions_body(
    *,
    user_id: str,
    action_id: str,
    value: str,
    channel_id: str,
    response_url: str,
    message_ts: str | None = None,
    block_id: str = "b",
    team_id: str | None = "T0TEST",
    **extra: Any,
) -> bytes:
    """A button click (block_actions) as Slack posts it: form-encoded ``payload=<json>``.

    ``message_ts=None`` means the button sits on an ephemeral message
    (``container.is_ephemeral`` true, no ``message``); pass ``ephemeral=`` to force either.
    Other keyword arguments: see :func:`block_actions_payload`.
    """
    payload = block_actions_payload(
        user_id=user_id,
        action_id=action_id,
        value=value,
        channel_id=channel_id,
        response_url=response_url,
        message_ts=message_ts,
        block_id=block_id,
        team_id=team_id,
        **extra,
    )
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode("utf-8")


def app_home_opened(
    *,
    user_id: str,
    channel_id: str = "D0HOME",
    tab: str = "home",
    team_id: str = "T0TEST",
    api_app_id: str = "A0TEST",
    event_ts: str | None = None,
    event_id: str | None = None,
    view: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Events API `event_callback` carrying app_home_opened, as Slack posts it (JSON) and as
    Socket Mode's `events_api` envelopes carry it. `view` is present only once a Home view has
    been published, as in Slack's."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": tab,
        "event_ts": event_ts or _action_ts(),
    }
    if view is not None:
        event["view"] = dict(view)
    return {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(6).upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "UBOT", "is_bot": True}],
        "is_ext_shared_channel": False,
    }


def home_block_actions_payload(
    *,
    user_id: str,
    action_id: str,
    value: str,
    team_id: str = "T0TEST",
    trigger_id: str | None = None,
    api_app_id: str = "A0TEST",
    view_id: str = "V0HOME",
) -> dict[str, Any]:
    """A click on a Home tab's button: its container is the view, and it carries no channel
    and no response_url (only a trigger_id, for views.open)."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": "tester", "name": "tester", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "verification-token",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": trigger_id or make_trigger_id(),
        "team": {"id": team_id, "domain": "fake-team"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": view_id, "type": "home", "team_id": team_id, "blocks": []},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b",
                "text": {"type": "plain_text", "text": "Button", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": _action_ts(),
            }
        ],
    }


def view_submission_payload(
    *,
    user_id: str,
    callback_id: str,
    private_metadata: str,
    team_id: str = "T0TEST",
    api_app_id: str = "A0TEST",
    view_id: str = "V0MODAL",
) -> dict[str, Any]:
    """A modal's submission (view_submission), as Slack posts it (form-encoded `payload=`)."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake-team"},
        "user": {"id": user_id, "username": "tester", "name": "tester", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "verification-token",
        "trigger_id": make_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": {}},
            "blocks": [],
            "hash": "1.abc",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def payload_body(payload: Mapping[str, Any]) -> bytes:
    """An interactive payload form-encoded as Slack posts it: ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode("utf-8")


def post_signed(
    url: str,
    body: bytes | str,
    secret: str,
    *,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST ``body`` to ``url`` signed with ``secret``, with Slack's headers."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    all_headers = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT}
    all_headers.update(sign(secret, raw, timestamp))
    if headers:
        all_headers.update(headers)
    return httpx.post(url, content=raw, headers=all_headers, timeout=timeout)
