"""A fake Slack Web API and response_url sink, served over real HTTP.

The bot under test talks to it with the real slack_sdk clients::

    with FakeSlack() as slack:
        client = WebClient(base_url=slack.api_url, token=slack.bot_token)
        client.chat_postMessage(channel="C1", text="hi")
        WebhookClient(slack.response_url()).send(text="done")
        slack.wait_for(lambda s: s.call_count("chat.postMessage") == 1)

Behaviour follows Slack where it matters for the bot (see /work/shared/slack/PLATFORM.md):

* every Web API answer is HTTP 200 JSON ``{"ok": ...}`` except rate limits (HTTP 429 with
  ``Retry-After``) and unknown methods (HTTP 404 ``unknown_method``);
* ``response_url``: at most 5 successful uses (then HTTP 404 ``used_url``), 30 minutes of
  life (``expired_url``), unknown id -> HTTP 404 ``no_service``; successful uses answer
  ``200 ok`` as text/plain;
* channels: unknown -> ``channel_not_found``; private and the bot not a member ->
  ``not_in_channel``; public and not a member -> allowed only with ``chat:write.public``;
  archived -> ``is_archived``;
* ``chat.update`` edits only messages the bot posted (``message_not_found`` otherwise) and
  keeps every version; when ``blocks``/``attachments`` are omitted the previous ones are
  retained, as Slack documents;
* Block Kit limits that Slack enforces (button text 75, value 2000, confirm title 100 /
  text 300 / confirm+deny 30, section text 3000, header 150, 50 blocks, ...) answer
  ``invalid_blocks`` with an ``errors`` list (disable with ``strict_blocks=False``);
* scopes are enforced for chat.* (``chat:write``), usergroups.* (``usergroups:read``) and
  users.info (``users:read``) -> ``missing_scope``. conversations.info is not scope-checked;
* rate limits only when asked for: one-off 429s (``inject_rate_limit``), a held window
  (``rate_limit_for``), a sliding window per method (``set_rate_limit``), or Slack's own
  limits (``real_limits=True``: chat.postMessage about 1 a second per channel with a short
  burst, the tier limits per minute of chat.update and the rest). Every 429 with a
  ``Retry-After`` shuts its key (the method; chat.postMessage: per channel) until then, and
  a call that arrives while it is shut is recorded in ``window_violations``.

All state lives behind one lock. Accessors (``requests``, ``messages``, ``message()``,
``responses()``...) return deep-copied snapshots: re-read them (e.g. inside a ``wait_for``
predicate) to observe later changes.

This module must not import bot modules outside ``bot.fakes``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import inspect
import itertools
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as _HeaderMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DEFAULT_SCOPES",
    "POST_MESSAGE_BURST",
    "POST_MESSAGE_PER_SECOND",
    "RESPONSE_URL_MAX_USES",
    "RESPONSE_URL_TTL_SECONDS",
    "TIER_PER_MINUTE",
    "Channel",
    "Ephemeral",
    "FakeSlack",
    "Message",
    "RecordedCall",
    "WindowViolation",
    "validate_blocks",
]

DEFAULT_SCOPES = "commands,chat:write,chat:write.public,usergroups:read,users:read"
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
MAX_TEXT_LENGTH = 40_000

# Slack's rate limits (PLATFORM.md; api.slack.com/docs/rate-limits), enforced with
# ``real_limits=True``. Limits are per method, workspace and app; chat.postMessage's is per
# channel: about 1 a second, "short bursts" allowed (a bucket of POST_MESSAGE_BURST).
POST_MESSAGE_PER_SECOND = 1.0
POST_MESSAGE_BURST = 3
TIER_PER_MINUTE = {
    "chat.update": 50,  # Tier 3
    "chat.delete": 50,  # Tier 3
    "conversations.info": 50,  # Tier 3
    "chat.postEphemeral": 100,  # Tier 4
    "users.info": 100,  # Tier 4
    "usergroups.list": 20,  # Tier 2
    "usergroups.users.list": 20,  # Tier 2
}
# A call that arrives this soon after a 429 was answered may have been sent before the
# client read it: it is not counted as sent inside the window.
IN_FLIGHT_GRACE = 0.1

# Params that slack_sdk (or a hand-written client) may send as JSON strings in form bodies.
_JSON_PARAMS = ("blocks", "attachments", "metadata", "user_auth_blocks")

_REQUIRED_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "usergroups.list": "usergroups:read",
    "users.info": "users:read",
}


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


@dataclass
class RecordedCall:
    """One HTTP request the fake received (Web API method or response_url)."""

    method: str  # Web API method name ("chat.update") or "response_url"
    params: dict[str, Any]  # query + form/JSON body merged; JSON strings (blocks...) parsed
    headers: dict[str, str]
    time: float  # time.time() when the request arrived
    status: int = 0  # HTTP status answered
    response: Any = None  # parsed JSON answer (dict) or text answer (response_url)
    http_method: str = "POST"
    path: str = ""
    token: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes = b""

    @property
    def ok(self) -> bool:
        if isinstance(self.response, dict):
            return self.status == 200 and self.response.get("ok") is True
        return self.status == 200

    @property
    def error(self) -> str | None:
        if isinstance(self.response, dict):
            err = self.response.get("error")
            return str(err) if err is not None else None
        return None if self.status == 200 else str(self.response)

    @property
    def response_body(self) -> Any:
        return self.response

    def describe(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time)) + f".{int(self.time * 1000) % 1000:03d}"
        outcome = "ok" if self.ok else (self.error or "?")
        keys = ("channel", "ts", "thread_ts", "user", "usergroup", "text", "replace_original")
        shown = {k: self.params[k] for k in keys if k in self.params}
        if "text" in shown and isinstance(shown["text"], str) and len(shown["text"]) > 60:
            shown["text"] = shown["text"][:57] + "..."
        return f"{stamp} {self.method} -> {self.status} {outcome} {shown}"


@dataclass
class Message:
    """A non-ephemeral message posted by the bot, with every version it ever had."""

    channel: str
    ts: str
    thread_ts: str | None
    user: str
    bot_id: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    deleted_at: float | None = None

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def text(self) -> str | None:
        return self.latest.get("text")

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        return self.latest.get("blocks")

    @property
    def posted_at(self) -> float:
        return float(self.versions[0]["time"])

    @property
    def edit_count(self) -> int:
        return len(self.versions) - 1

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> dict[str, Any]:
        latest = self.latest
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": self.bot_id,
            "ts": self.ts,
            "text": latest.get("text") or "",
        }
        if latest.get("blocks") is not None:
            out["blocks"] = latest["blocks"]
        if latest.get("attachments") is not None:
            out["attachments"] = latest["attachments"]
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if len(self.versions) > 1:
            out["edited"] = {"user": self.user, "ts": latest["edited_ts"]}
        return out


@dataclass
class Ephemeral:
    """A chat.postEphemeral message. Also readable as a mapping: ``e["text"]``."""

    channel: str
    user: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    time: float
    message_ts: str
    thread_ts: str | None = None
    attachments: list[Any] | None = None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_archived: bool = False
    is_im: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private and not self.is_im,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "is_member": self.is_member,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
        }


@dataclass
class _Injection:
    method: str
    remaining: int
    error: str = "ratelimited"
    status: int = 200
    retry_after: int | None = None
    channel: str | None = None

    def matches(self, method: str, channel: str | None) -> bool:
        return (
            self.remaining > 0
            and self.method in (method, "*")
            and (self.channel is None or self.channel == channel)
        )


@dataclass(frozen=True)
class WindowViolation:
    """A call that arrived while a 429's Retry-After window for its key was still shut."""

    method: str
    channel: str | None  # the window's channel (chat.postMessage), else None
    time: float  # time.time() when the call arrived
    refused_at: float  # when the 429 that opened the window was answered
    until: float  # when the window ends

    def describe(self) -> str:
        where = f" to {self.channel}" if self.channel else ""
        return (
            f"{self.method}{where} {self.time - self.refused_at:.3f} s after a 429, "
            f"{self.until - self.time:.3f} s before its Retry-After ended"
        )


@dataclass
class _RateLimit:
    """Sliding window: at most ``max_calls`` accepted calls within ``per_seconds``."""

    max_calls: int
    per_seconds: float
    per_channel: bool
    history: dict[str | None, deque[float]] = field(default_factory=dict)

    def admit(self, channel: str | None, now: float) -> float | None:
        """None when the call is accepted (and counted), else the seconds until it would be."""
        history = self.history.setdefault(channel if self.per_channel else None, deque())
        while history and history[0] <= now - self.per_seconds:
            history.popleft()
        if len(history) >= self.max_calls:
            return history[0] + self.per_seconds - now
        history.append(now)
        return None


@dataclass
class _TokenBucket:
    """``per_second`` calls a second on average, up to ``burst`` at once."""

    per_second: float
    burst: int
    per_channel: bool
    levels: dict[str | None, tuple[float, float]] = field(default_factory=dict)  # tokens, at

    def admit(self, channel: str | None, now: float) -> float | None:
        key = channel if self.per_channel else None
        tokens, at = self.levels.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            self.levels[key] = (tokens, now)
            return (1.0 - tokens) / self.per_second
        self.levels[key] = (tokens - 1.0, now)
        return None


def _real_limits() -> dict[str, _RateLimit | _TokenBucket]:
    limits: dict[str, _RateLimit | _TokenBucket] = {
        method: _RateLimit(per_minute, 60.0, per_channel=False)
        for method, per_minute in TIER_PER_MINUTE.items()
    }
    limits["chat.postMessage"] = _TokenBucket(POST_MESSAGE_PER_SECOND, POST_MESSAGE_BURST, per_channel=True)
    return limits


def _window_key(method: str, channel: str | None) -> tuple[str, str | None]:
    """Slack limits chat.postMessage per channel and every other method as a whole."""
    return (method, channel if method == "chat.postMessage" else None)


@dataclass
class _ResponseUrl:
    id: str
    label: str | None
    created: float
    channel: str | None = None
    message_ts: str | None = None
    uses: int = 0
    expired: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    failures: list[_Injection] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Block Kit validation (the subset of Slack's limits the bot can plausibly hit)
# --------------------------------------------------------------------------------------


def _check_text_object(
    obj: Any, path: str, max_len: int, errors: list[str], *, plain_only: bool = False
) -> None:
    if obj is None:
        errors.append(f"missing required field: text [json-pointer:{path}]")
        return
    if not isinstance(obj, dict):
        errors.append(f"must be an object [json-pointer:{path}]")
        return
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        errors.append(f"must be one of {list(allowed)} [json-pointer:{path}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"must be more than 0 characters [json-pointer:{path}/text]")
    elif len(text) > max_len:
        errors.append(f"must be less than {max_len + 1} characters [json-pointer:{path}/text]")


def _check_style(obj: dict[str, Any], path: str, errors: list[str]) -> None:
    if "style" in obj and obj["style"] not in ("primary", "danger"):
        errors.append(f"must be one of ['primary', 'danger'] [json-pointer:{path}/style]")


def _check_confirm(obj: Any, path: str, errors: list[str]) -> None:
    if not isinstance(obj, dict):
        errors.append(f"must be an object [json-pointer:{path}]")
        return
    _check_text_object(obj.get("title"), f"{path}/title", 100, errors, plain_only=True)
    _check_text_object(obj.get("text"), f"{path}/text", 300, errors)
    _check_text_object(obj.get("confirm"), f"{path}/confirm", 30, errors, plain_only=True)
    _check_text_object(obj.get("deny"), f"{path}/deny", 30, errors, plain_only=True)
    _check_style(obj, path, errors)


def _check_element(el: Any, path: str, errors: list[str]) -> None:
    if not isinstance(el, dict) or not isinstance(el.get("type"), str):
        errors.append(f"missing required field: type [json-pointer:{path}]")
        return
    action_id = el.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or not 0 < len(action_id) <= 255):
        errors.append(f"must be 1 to 255 characters [json-pointer:{path}/action_id]")
    if el["type"] == "button":
        _check_text_object(el.get("text"), f"{path}/text", 75, errors, plain_only=True)
        value = el.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            errors.append(f"must be less than 2001 characters [json-pointer:{path}/value]")
        url = el.get("url")
        if url is not None and (not isinstance(url, str) or len(url) > 3000):
            errors.append(f"must be less than 3001 characters [json-pointer:{path}/url]")
        _check_style(el, path, errors)
    if "confirm" in el:
        _check_confirm(el["confirm"], f"{path}/confirm", errors)


def validate_blocks(blocks: Any, *, max_blocks: int = 50) -> list[str]:
    """Slack-style error strings for a message's ``blocks`` (empty list = valid)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        path = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{path}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                errors.append(f"must be 1 to 255 characters [json-pointer:{path}/block_id]")
            elif block_id in block_ids:
                errors.append(f"duplicate block_id [json-pointer:{path}/block_id]")
            else:
                block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide either text or fields [json-pointer:{path}]")
            if "text" in block:
                _check_text_object(block["text"], f"{path}/text", 3000, errors)
            if "fields" in block:
                fields_ = block["fields"]
                if not isinstance(fields_, list) or not 0 < len(fields_) <= 10:
                    errors.append(f"must have 1 to 10 items [json-pointer:{path}/fields]")
                else:
                    for j, f in enumerate(fields_):
                        _check_text_object(f, f"{path}/fields/{j}", 2000, errors)
            if "accessory" in block:
                _check_element(block["accessory"], f"{path}/accessory", errors)
        elif kind == "header":
            _check_text_object(block.get("text"), f"{path}/text", 150, errors, plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                errors.append(f"must have 1 to 10 items [json-pointer:{path}/elements]")
            else:
                for j, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                        _check_text_object(el, f"{path}/elements/{j}", 3000, errors)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                errors.append(f"must have 1 to 25 items [json-pointer:{path}/elements]")
            else:
                action_ids: set[str] = set()
                for j, el in enumerate(elements):
                    _check_element(el, f"{path}/elements/{j}", errors)
                    aid = el.get("action_id") if isinstance(el, dict) else None
                    if isinstance(aid, str):
                        if aid in action_ids:
                            errors.append(f"duplicate action_id [json-pointer:{path}/elements/{j}/action_id]")
                        action_ids.add(aid)
        # other block types (divider, image, rich_text, ...) are accepted as they are
    return errors


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _flatten_qs(parsed: dict[str, list[str]]) -> dict[str, Any]:
    return {k: (v[0] if len(v) == 1 else v) for k, v in parsed.items()}


def _parse_params(query: str, raw: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body (form or JSON). Returns (params, error)."""
    params: dict[str, Any] = _flatten_qs(parse_qs(query, keep_blank_values=True))
    error: str | None = None
    ctype = content_type.split(";", 1)[0].strip().lower()
    if raw:
        if ctype == "application/json":
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                error = "invalid_json"
            else:
                if isinstance(body, dict):
                    params.update(body)
                else:
                    error = "invalid_json"
        elif ctype.startswith("multipart/"):
            pass  # file uploads are not modelled; the raw body is still recorded
        else:
            try:
                params.update(_flatten_qs(parse_qs(raw.decode("utf-8"), keep_blank_values=True)))
            except UnicodeDecodeError:
                error = "invalid_form_data"
    for key in _JSON_PARAMS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # left as a string when malformed: the method answers invalid_blocks_format
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params, error


def _describe_predicate(predicate: Callable[..., Any]) -> str:
    name = getattr(predicate, "__name__", repr(predicate))
    if name == "<lambda>":
        try:
            return inspect.getsource(predicate).strip()
        except (OSError, TypeError):
            return repr(predicate)
    doc = (getattr(predicate, "__doc__", None) or "").strip()
    return f"{name}: {doc}" if doc else name


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 30
    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; everything is in FakeSlack.requests

    def do_POST(self) -> None:
        self.server.fake._serve(self, "POST")

    def do_GET(self) -> None:
        self.server.fake._serve(self, "GET")

    def do_PUT(self) -> None:
        self.server.fake._serve(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._serve(self, "DELETE")


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


class FakeSlack:
    """Fake Slack Web API + response_url endpoints on ``http://127.0.0.1:<port>``."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",  # noqa: S107
        *,
        team_id: str = "T0TEST",
        bot_user_id: str = "UBOT",
        scopes: str = DEFAULT_SCOPES,
        bot_id: str = "B0TEST",
        app_id: str = "A0TEST",
        team_name: str = "Fake Team",
        team_domain: str = "fake-team",
        auto_channels: bool = True,
        auto_users: bool = False,
        strict_blocks: bool = True,
        real_limits: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.auto_channels = auto_channels
        self.auto_users = auto_users
        self.strict_blocks = strict_blocks
        self._host = host
        self._port = port
        self._scopes = scopes

        self._lock = threading.RLock()
        self._requests: list[RecordedCall] = []
        self._messages: dict[tuple[str, str], Message] = {}
        self._ephemerals: list[Ephemeral] = []
        self._channels: dict[str, Channel] = {}
        self._removed_channels: set[str] = set()
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._plan_upgrade_required = False
        self._injections: list[_Injection] = []
        self._rate_windows: dict[tuple[str, str | None], float] = {}
        self._rate_limits: dict[str, _RateLimit] = {}
        self._real_limits: dict[str, _RateLimit | _TokenBucket] = _real_limits() if real_limits else {}
        self._shut: dict[tuple[str, str | None], tuple[float, float]] = {}  # refused at, until
        self._violations: list[WindowViolation] = []
        self._latency: dict[str, float] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._response_counter = itertools.count(1)
        self._last_ts_us = 0
        self._internal_errors: list[str] = []

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any], float], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "usergroups.users.list": self._usergroups_users_list,
            "usergroups.list": self._usergroups_list,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
        }

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._server = _Server((self._host, self._port), self)
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeSlack:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started: call start() or use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``; slack_sdk appends the method name."""
        return f"{self.base_url}/api/"

    # ----------------------------------------------------------------- configuration

    @property
    def scopes(self) -> str:
        with self._lock:
            return self._scopes

    def set_scopes(self, scopes: str) -> None:
        with self._lock:
            self._scopes = scopes

    def _scope_set(self) -> set[str]:
        return {s.strip() for s in self._scopes.split(",") if s.strip()}

    def add_channel(
        self,
        id: str,
        name: str | None = None,
        *,
        is_private: bool = False,
        is_member: bool = True,
        archived: bool = False,
        is_im: bool = False,
    ) -> Channel:
        with self._lock:
            channel = Channel(
                id=id,
                name=name or id.lower(),
                is_private=is_private,
                is_member=is_member,
                is_archived=archived,
                is_im=is_im,
            )
            self._channels[id] = channel
            self._removed_channels.discard(id)
            return copy.deepcopy(channel)

    def remove_channel(self, id: str) -> None:
        """Forget a channel; it stays unknown (``channel_not_found``) even with auto_channels."""
        with self._lock:
            self._channels.pop(id, None)
            self._removed_channels.add(id)

    def set_channel(self, id: str, **changes: Any) -> Channel:
        """Change a channel's flags, e.g. ``set_channel("C1", is_member=False, is_archived=True)``."""
        with self._lock:
            channel = self._resolve_channel(id)
            if channel is None:
                raise KeyError(f"unknown channel {id!r}")
            for key, value in changes.items():
                if key == "archived":
                    key = "is_archived"
                if not hasattr(channel, key):
                    raise AttributeError(f"Channel has no field {key!r}")
                setattr(channel, key, value)
            return copy.deepcopy(channel)

    def channel(self, id: str) -> Channel:
        with self._lock:
            if id not in self._channels:
                raise KeyError(f"unknown channel {id!r}; known: {sorted(self._channels)}")
            return copy.deepcopy(self._channels[id])

    def add_user(
        self,
        id: str,
        name: str | None = None,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_bot: bool = False,
        team_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add (or replace) a user answered by users.info. ``extra`` keys are merged in."""
        name = name or id.lower()
        real = real_name if real_name is not None else name.title()
        user: dict[str, Any] = {
            "id": id,
            "team_id": team_id or self.team_id,
            "name": name,
            "real_name": real,
            "deleted": deleted,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "tz": "Etc/UTC",
            "profile": {
                "display_name": display_name if display_name is not None else name,
                "real_name": real,
            },
        }
        user.update(extra)
        with self._lock:
            self._users[id] = user
        return copy.deepcopy(user)

    def update_user(self, id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            if id not in self._users:
                raise KeyError(f"unknown user {id!r}")
            self._users[id].update(changes)
            return copy.deepcopy(self._users[id])

    def remove_user(self, id: str) -> None:
        with self._lock:
            self._users.pop(id, None)

    def add_usergroup(self, id: str, handle: str, members: list[str], *, name: str | None = None) -> None:
        with self._lock:
            self._usergroups[id] = {
                "id": id,
                "team_id": self.team_id,
                "handle": handle,
                "name": name or handle,
                "users": list(members),
                "date_delete": 0,
            }

    def set_usergroup_members(self, id: str, members: list[str]) -> None:
        with self._lock:
            if id not in self._usergroups:
                raise KeyError(f"unknown usergroup {id!r}")
            self._usergroups[id]["users"] = list(members)

    def remove_usergroup(self, id: str) -> None:
        with self._lock:
            self._usergroups.pop(id, None)

    def set_plan_upgrade_required(self, enabled: bool = True) -> None:
        """Free workspace: usergroups.* answer ``plan_upgrade_required``."""
        with self._lock:
            self._plan_upgrade_required = enabled

    # ----------------------------------------------------------------- fault injection

    def inject_error(
        self,
        method: str,
        error: str = "not_in_channel",
        *,
        times: int = 1,
        channel: str | None = None,
        status: int = 200,
    ) -> None:
        """The next ``times`` calls of ``method`` (``"*"`` = any; only to ``channel`` if
        given) answer ``{"ok": false, "error": error}`` with HTTP ``status``."""
        with self._lock:
            self._injections.append(
                _Injection(method=method, remaining=times, error=error, status=status, channel=channel)
            )

    def inject_rate_limit(
        self, method: str, retry_after: int = 1, *, times: int = 1, channel: str | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 ``ratelimited`` with
        ``Retry-After: retry_after``."""
        with self._lock:
            self._injections.append(
                _Injection(
                    method=method,
                    remaining=times,
                    error="ratelimited",
                    status=429,
                    retry_after=retry_after,
                    channel=channel,
                )
            )

    def rate_limit_for(self, method: str, seconds: float, *, channel: str | None = None) -> None:
        """Every call of ``method`` (to ``channel`` if given) in the next ``seconds`` answers
        429, with ``Retry-After`` = the seconds left (rounded up), as Slack does while a
        limit holds."""
        with self._lock:
            self._rate_windows[(method, channel)] = time.time() + seconds

    def set_rate_limit(
        self, method: str, max_calls: int | None, per_seconds: float = 60.0, *, per_channel: bool = False
    ) -> None:
        """Sliding-window limiter: more than ``max_calls`` accepted calls of ``method`` within
        ``per_seconds`` (per channel if ``per_channel``) answer 429. ``None`` removes it."""
        with self._lock:
            if max_calls is None:
                self._rate_limits.pop(method, None)
            else:
                self._rate_limits[method] = _RateLimit(max_calls, per_seconds, per_channel)

    def set_real_limits(self, enabled: bool = True) -> None:
        """Enforce Slack's own rate limits (see TIER_PER_MINUTE, POST_MESSAGE_*), from now on.
        A ``set_rate_limit`` on a method takes precedence over its real limit."""
        with self._lock:
            self._real_limits = _real_limits() if enabled else {}

    @property
    def real_limits(self) -> bool:
        with self._lock:
            return bool(self._real_limits)

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers to ``method`` (``"*"`` = every method, ``"response_url"`` = the
        response_url sink) by ``seconds``. 0 removes the delay."""
        with self._lock:
            if seconds <= 0:
                self._latency.pop(method, None)
            else:
                self._latency[method] = seconds

    def clear_faults(self) -> None:
        with self._lock:
            self._injections.clear()
            self._rate_windows.clear()
            self._rate_limits.clear()
            self._latency.clear()
            for state in self._response_urls.values():
                state.failures.clear()

    # ----------------------------------------------------------------- response_url

    def response_url(
        self, label: str | None = None, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A fresh response_url. With ``channel``/``message_ts`` of a bot message (a button
        click on it), ``replace_original``/``delete_original`` also edit/delete that message."""
        with self._lock:
            number = next(self._response_counter)
            rid = f"{number}-{uuid.uuid4().hex[:12]}"
            self._response_urls[rid] = _ResponseUrl(
                id=rid, label=label, created=time.time(), channel=channel, message_ts=message_ts
            )
        return f"{self.base_url}/response/{rid}"

    def _response_state(self, url_or_id: str) -> _ResponseUrl:
        rid = url_or_id.rstrip("/").rsplit("/", 1)[-1]
        state = self._response_urls.get(rid)
        if state is None:
            raise KeyError(f"unknown response_url {url_or_id!r}")
        return state

    def responses(self, url_or_id: str | None = None) -> list[dict[str, Any]]:
        """Accepted posts to one response_url (or to all, in arrival order), each
        ``{text, blocks, attachments, response_type, replace_original, delete_original,
        thread_ts, time, body, id, label}``."""
        with self._lock:
            if url_or_id is None:
                records = [r for s in self._response_urls.values() for r in s.records]
                records.sort(key=lambda r: r["time"])
            else:
                records = list(self._response_state(url_or_id).records)
            return copy.deepcopy(records)

    def response_url_uses(self, url_or_id: str) -> int:
        with self._lock:
            return self._response_state(url_or_id).uses

    def expire_response_url(self, url_or_id: str) -> None:
        """Make a response_url answer 404 ``expired_url`` (as after 30 minutes)."""
        with self._lock:
            self._response_state(url_or_id).expired = True

    def inject_response_url_error(
        self, url_or_id: str, status: int = 500, *, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next ``times`` posts to this response_url answer HTTP ``status`` (429 gets a
        ``Retry-After``, default 1). Failed posts do not count towards the 5 uses."""
        if status == 429 and retry_after is None:
            retry_after = 1
        error = {429: "rate_limited", 500: "internal_error", 503: "service_unavailable"}.get(status, "error")
        with self._lock:
            self._response_state(url_or_id).failures.append(
                _Injection(
                    method="response_url",
                    remaining=times,
                    error=error,
                    status=status,
                    retry_after=retry_after,
                )
            )

    # ----------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[RecordedCall]:
        with self._lock:
            return copy.deepcopy(self._requests)

    def calls(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return copy.deepcopy([c for c in self._requests if c.method == method])

    def call_count(self, method: str) -> int:
        with self._lock:
            return sum(1 for c in self._requests if c.method == method)

    def last_call(self, method: str) -> RecordedCall:
        with self._lock:
            for call in reversed(self._requests):
                if call.method == method:
                    return copy.deepcopy(call)
        raise LookupError(f"no {method} call recorded")

    @property
    def internal_errors(self) -> list[str]:
        """Exceptions raised inside the fake while serving (answered HTTP 500); should be []."""
        with self._lock:
            return list(self._internal_errors)

    @property
    def window_violations(self) -> list[WindowViolation]:
        """Calls that arrived while a 429's Retry-After window for their key was shut (more
        than IN_FLIGHT_GRACE after that 429 was answered); a client that honours Retry-After
        has none."""
        with self._lock:
            return list(self._violations)

    @property
    def rate_limited(self) -> list[RecordedCall]:
        """The Web API calls answered 429."""
        with self._lock:
            refused = [c for c in self._requests if c.status == 429 and c.method != "response_url"]
            return copy.deepcopy(refused)

    def clear_requests(self) -> None:
        """Forget the recorded calls and window violations (the limits' state is kept)."""
        with self._lock:
            self._requests.clear()
            self._violations.clear()

    @property
    def messages(self) -> dict[tuple[str, str], Message]:
        """Every bot message (deleted ones included), keyed by (channel, ts), in post order."""
        with self._lock:
            return copy.deepcopy(self._messages)

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            msg = self._messages.get((channel, ts))
            if msg is None:
                known = [k for k in self._messages if k[0] == channel]
                raise KeyError(f"no bot message ({channel!r}, {ts!r}); messages in channel: {known}")
            return copy.deepcopy(msg)

    def messages_in(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """Top-level messages and replies in ``channel``, in post order."""
        with self._lock:
            return copy.deepcopy(
                [
                    m
                    for (ch, _), m in self._messages.items()
                    if ch == channel and (include_deleted or not m.deleted)
                ]
            )

    def thread(self, channel: str, ts: str, *, include_deleted: bool = False) -> list[Message]:
        """Replies (not the parent) in the thread of ``ts``, in post order."""
        with self._lock:
            return copy.deepcopy(
                [
                    m
                    for (ch, mts), m in self._messages.items()
                    if ch == channel
                    and m.thread_ts == ts
                    and mts != ts
                    and (include_deleted or not m.deleted)
                ]
            )

    @property
    def ephemerals(self) -> list[Ephemeral]:
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    def describe_requests(self, limit: int = 25) -> str:
        with self._lock:
            recent = self._requests[-limit:]
            lines = [c.describe() for c in recent]
            skipped = len(self._requests) - len(recent)
        if skipped:
            lines.insert(0, f"... {skipped} earlier requests")
        return "\n".join(lines) if lines else "(no requests)"

    def wait_for(
        self,
        predicate: Callable[[FakeSlack], bool],
        timeout: float = 10.0,
        interval: float = 0.02,
        *,
        message: str | None = None,
    ) -> bool:
        """Poll ``predicate(self)`` until true (returns True) or raise AssertionError after
        ``timeout`` s describing the predicate and the recent requests. Exceptions raised
        by the predicate (e.g. KeyError while a message does not exist yet) count as false."""
        deadline = time.monotonic() + timeout
        last_exc: BaseException | None = None
        while True:
            try:
                if predicate(self):
                    return True
                last_exc = None
            except Exception as exc:
                last_exc = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        what = message or _describe_predicate(predicate)
        detail = f"\nlast predicate error: {last_exc!r}" if last_exc is not None else ""
        raise AssertionError(
            f"FakeSlack.wait_for timed out after {timeout}s waiting for: {what}{detail}\n"
            f"recent requests:\n{self.describe_requests()}"
        )

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> list[RecordedCall]:
        """Wait until at least ``count`` ``method`` calls were recorded; return them all."""
        self.wait_for(
            lambda s: s.call_count(method) >= count,
            timeout=timeout,
            message=f"at least {count} {method} call(s)",
        )
        return self.calls(method)

    def __repr__(self) -> str:
        where = self.api_url if self._server is not None else "not started"
        return f"<FakeSlack {where} requests={len(self._requests)} messages={len(self._messages)}>"

    # ----------------------------------------------------------------- HTTP entry point

    def _serve(self, handler: _Handler, verb: str) -> None:
        arrived = time.time()
        split = urlsplit(handler.path)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = handler.rfile.read(length) if length > 0 else b""
        path = split.path
        status: int
        body: dict[str, Any] | str
        headers: dict[str, str]
        try:
            if path.startswith("/api/"):
                status, body, headers = self._serve_api(
                    handler.headers, verb, path, split.query, raw, arrived
                )
            elif path.startswith("/response/"):
                status, body, headers = self._serve_response_url(handler.headers, verb, path, raw, arrived)
            elif path in ("", "/") and verb == "GET":
                status, body, headers = 200, "fake-slack", {}
            else:
                status, body, headers = 404, "not_found", {}
        except Exception as exc:  # a bug in the fake: make it loud, recorded and answered
            status, body, headers = 500, {"ok": False, "error": f"fake_slack_bug: {exc!r}"}, {}
            with self._lock:
                self._internal_errors.append(f"{verb} {handler.path}: {exc!r}")
                self._record(
                    RecordedCall(
                        method=path.rsplit("/", 1)[-1],
                        params={},
                        headers=dict(handler.headers.items()),
                        time=arrived,
                        status=status,
                        response=body,
                        http_method=verb,
                        path=path,
                        raw_body=raw,
                    )
                )
        if isinstance(body, dict):
            payload = json.dumps(body).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        else:
            payload = str(body).encode("utf-8")
            ctype = "text/plain; charset=utf-8"
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); the request is recorded anyway

    def _latency_for(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency.get("*", 0.0))

    def _record(self, call: RecordedCall) -> None:
        self._requests.append(call)

    # ----------------------------------------------------------------- Web API

    def _serve_api(
        self, raw_headers: _HeaderMessage, verb: str, path: str, query: str, raw: bytes, arrived: float
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        method = path[len("/api/") :].strip("/")
        params, parse_error = _parse_params(query, raw, raw_headers.get("Content-Type", ""))
        token: str | None = None
        auth = raw_headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        form_token = params.pop("token", None)
        if token is None and isinstance(form_token, str) and form_token:
            token = form_token

        delay = self._latency_for(method)
        if delay:
            time.sleep(delay)

        with self._lock:
            headers = {"x-oauth-scopes": self._scopes}
            if method in _REQUIRED_SCOPES:
                headers["x-accepted-oauth-scopes"] = _REQUIRED_SCOPES[method]
            status = 200
            if verb not in ("GET", "POST"):
                status, body = 405, {"ok": False, "error": "method_not_allowed"}
            else:
                status, body, extra_headers = self._dispatch(method, params, token, parse_error)
                headers.update(extra_headers)
            self._record(
                RecordedCall(
                    method=method,
                    params=copy.deepcopy(params),
                    headers=dict(raw_headers.items()),
                    time=arrived,
                    status=status,
                    response=copy.deepcopy(body),
                    http_method=verb,
                    path=path,
                    token=token,
                    response_headers=dict(headers),
                    raw_body=raw,
                )
            )
        return status, body, headers

    def _dispatch(
        self, method: str, params: dict[str, Any], token: str | None, parse_error: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler = self._methods.get(method)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        if method != "api.test":
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if token != self.bot_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}

        now = time.time()
        channel = params.get("channel") if isinstance(params.get("channel"), str) else None
        self._check_window(method, channel, now)

        retry_after = self._rate_limited(method, channel, now)
        if retry_after is not None:
            self._shut_window(method, channel, now, retry_after)
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}

        for inj in self._injections:
            if inj.matches(method, channel):
                inj.remaining -= 1
                extra = {}
                if inj.retry_after is not None:
                    extra["Retry-After"] = str(inj.retry_after)
                    if inj.status == 429:
                        self._shut_window(method, channel, now, inj.retry_after)
                self._injections = [i for i in self._injections if i.remaining > 0]
                return inj.status, {"ok": False, "error": inj.error}, extra

        needed = _REQUIRED_SCOPES.get(method)
        if needed and needed not in self._scope_set():
            return (
                200,
                {"ok": False, "error": "missing_scope", "needed": needed, "provided": self._scopes},
                {},
            )

        try:
            return 200, handler(params, now), {}
        except _ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}

    def _rate_limited(self, method: str, channel: str | None, now: float) -> int | None:
        """The Retry-After (whole seconds, as Slack sends it) when this call is over a limit."""
        for key in ((method, channel), (method, None)):
            until = self._rate_windows.get(key)
            if until is not None:
                if until > now:
                    return max(1, math.ceil(until - now))
                del self._rate_windows[key]
        limit = self._rate_limits.get(method) or self._real_limits.get(method)
        if limit is None:
            return None
        wait = limit.admit(channel, now)
        return None if wait is None else max(1, math.ceil(wait))

    def _shut_window(self, method: str, channel: str | None, now: float, retry_after: float) -> None:
        """A 429 told the client not to call this key for `retry_after` seconds."""
        if retry_after <= 0:
            return
        key = _window_key(method, channel)
        refused_at, until = self._shut.get(key, (now, now))
        if until <= now:
            refused_at = now  # a new window; a still-open one keeps when it was first told
        self._shut[key] = (refused_at, max(until, now + retry_after))

    def _check_window(self, method: str, channel: str | None, now: float) -> None:
        key = _window_key(method, channel)
        shut = self._shut.get(key)
        if shut is None:
            return
        refused_at, until = shut
        if now >= until:
            del self._shut[key]
        elif now >= refused_at + IN_FLIGHT_GRACE:
            self._violations.append(WindowViolation(method, key[1], now, refused_at, until))

    def _next_ts(self) -> str:
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        sec, micro = divmod(self._last_ts_us, 1_000_000)
        return f"{sec}.{micro:06d}"

    def _resolve_channel(self, raw: Any) -> Channel | None:
        if not isinstance(raw, str) or not raw:
            return None
        if raw in self._channels:
            return self._channels[raw]
        name = raw.lstrip("#")
        for channel in self._channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        if self.auto_channels and raw not in self._removed_channels and not raw.startswith("#"):
            if raw.startswith("C"):
                self._channels[raw] = Channel(id=raw, name=raw.lower())
                return self._channels[raw]
            if raw.startswith("D"):
                self._channels[raw] = Channel(id=raw, name=raw.lower(), is_private=True, is_im=True)
                return self._channels[raw]
        return None

    def _postable_channel(self, raw: Any) -> Channel:
        channel = self._resolve_channel(raw)
        if channel is None:
            raise _ApiError("channel_not_found")
        if channel.is_archived:
            raise _ApiError("is_archived")
        if not channel.is_member and (channel.is_private or "chat:write.public" not in self._scope_set()):
            raise _ApiError("not_in_channel")
        return channel

    def _content(
        self, params: dict[str, Any], *, require: bool = True
    ) -> tuple[str | None, list[Any] | None, list[Any] | None]:
        text = params.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            if blocks.strip() == "":
                blocks = None
            else:
                raise _ApiError("invalid_blocks_format")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise _ApiError("invalid_blocks_format")
            if self.strict_blocks:
                errors = validate_blocks(blocks)
                if errors:
                    raise _ApiError("invalid_blocks", errors=errors, response_metadata={"messages": errors})
        attachments = params.get("attachments")
        if isinstance(attachments, str):
            raise _ApiError("invalid_attachments")
        if require and not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise _ApiError("msg_too_long")
        return text, blocks, attachments

    def _api_test(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return {"ok": True, "args": params}

    def _auth_test(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "polytomic-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = self._postable_channel(params.get("channel"))
        text, blocks, attachments = self._content(params)
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None:
            thread_ts = str(thread_ts)
        ts = self._next_ts()
        msg = Message(
            channel=channel.id,
            ts=ts,
            thread_ts=thread_ts,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            versions=[
                {
                    "method": "chat.postMessage",
                    "text": text,
                    "blocks": blocks,
                    "attachments": attachments,
                    "thread_ts": thread_ts,
                    "reply_broadcast": _truthy(params.get("reply_broadcast")),
                    "time": now,
                    "edited_ts": None,
                }
            ],
        )
        self._messages[(channel.id, ts)] = msg
        return {"ok": True, "channel": channel.id, "ts": ts, "message": msg.to_api()}

    def _bot_message(self, params: dict[str, Any]) -> Message:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            raise _ApiError("channel_not_found")
        ts = params.get("ts")
        msg = self._messages.get((channel.id, str(ts))) if ts else None
        if msg is None or msg.deleted:
            raise _ApiError("message_not_found")
        return msg

    def _chat_update(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        msg = self._bot_message(params)
        channel = self._channels[msg.channel]
        if channel.is_archived:
            raise _ApiError("is_archived")
        text, blocks, attachments = self._content(params)
        previous = msg.latest
        version = {
            "method": "chat.update",
            "text": text,
            "blocks": blocks if "blocks" in params else previous.get("blocks"),
            "attachments": attachments if "attachments" in params else previous.get("attachments"),
            "thread_ts": msg.thread_ts,
            "time": now,
            "edited_ts": self._next_ts(),
        }
        msg.versions.append(version)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": text or "", "message": msg.to_api()}

    def _chat_post_ephemeral(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = self._postable_channel(params.get("channel"))
        user = params.get("user")
        if not isinstance(user, str) or not user:
            raise _ApiError("user_not_found")
        text, blocks, attachments = self._content(params)
        ts = self._next_ts()
        thread_ts = params.get("thread_ts") or None
        self._ephemerals.append(
            Ephemeral(
                channel=channel.id,
                user=user,
                text=text,
                blocks=blocks,
                time=now,
                message_ts=ts,
                thread_ts=str(thread_ts) if thread_ts else None,
                attachments=attachments,
            )
        )
        return {"ok": True, "message_ts": ts}

    def _chat_delete(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        msg = self._bot_message(params)
        msg.deleted = True
        msg.deleted_at = now
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _usergroups_users_list(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        if self._plan_upgrade_required:
            raise _ApiError("plan_upgrade_required")
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}

    def _usergroups_list(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        if self._plan_upgrade_required:
            raise _ApiError("plan_upgrade_required")
        include_users = _truthy(params.get("include_users"))
        groups = []
        for group in self._usergroups.values():
            item = {k: v for k, v in group.items() if k != "users"}
            item["user_count"] = len(group["users"])
            if include_users:
                item["users"] = list(group["users"])
            groups.append(item)
        return {"ok": True, "usergroups": groups}

    def _users_info(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        user_id = params.get("user")
        if not isinstance(user_id, str) or not user_id:
            raise _ApiError("user_not_found")
        if user_id not in self._users:
            if not (self.auto_users and user_id[:1] in ("U", "W")):
                raise _ApiError("user_not_found")
            self.add_user(user_id)
        return {"ok": True, "user": copy.deepcopy(self._users[user_id])}

    def _conversations_info(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        # A bot cannot see private channels it is not in.
        if channel is None or (channel.is_private and not channel.is_member):
            raise _ApiError("channel_not_found")
        return {"ok": True, "channel": channel.to_api()}

    # ----------------------------------------------------------------- response_url sink

    def _serve_response_url(
        self, raw_headers: _HeaderMessage, verb: str, path: str, raw: bytes, arrived: float
    ) -> tuple[int, str, dict[str, str]]:
        rid = path[len("/response/") :].strip("/")
        body: dict[str, Any] = {}
        parse_ok = True
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
            if isinstance(parsed, dict):
                body = parsed
            else:
                parse_ok = False
        except (UnicodeDecodeError, ValueError):
            parse_ok = False

        delay = self._latency_for("response_url")
        if delay:
            time.sleep(delay)

        with self._lock:
            status, answer, headers = self._accept_response(rid, verb, body, parse_ok, arrived)
            self._record(
                RecordedCall(
                    method="response_url",
                    params=copy.deepcopy(body),
                    headers=dict(raw_headers.items()),
                    time=arrived,
                    status=status,
                    response=answer,
                    http_method=verb,
                    path=path,
                    response_headers=dict(headers),
                    raw_body=raw,
                )
            )
        return status, answer, headers

    def _accept_response(
        self, rid: str, verb: str, body: dict[str, Any], parse_ok: bool, now: float
    ) -> tuple[int, str, dict[str, str]]:
        state = self._response_urls.get(rid)
        if state is None:
            return 404, "no_service", {}
        if verb != "POST":
            return 405, "invalid_method", {}
        for inj in state.failures:
            if inj.remaining > 0:
                inj.remaining -= 1
                headers = {"Retry-After": str(inj.retry_after)} if inj.retry_after is not None else {}
                return inj.status, inj.error, headers
        if state.expired or now - state.created > RESPONSE_URL_TTL_SECONDS:
            return 404, "expired_url", {}
        if state.uses >= RESPONSE_URL_MAX_USES:
            return 404, "used_url", {}
        if not parse_ok:
            return 400, "invalid_payload", {}
        delete = _truthy(body.get("delete_original"))
        try:
            text, blocks, attachments = self._content(body, require=not delete)
        except _ApiError as exc:
            return 400, exc.error, {}
        state.uses += 1
        record = {
            "text": text,
            "blocks": blocks,
            "attachments": attachments,
            "response_type": body.get("response_type"),
            "replace_original": _truthy(body.get("replace_original")),
            "delete_original": delete,
            "thread_ts": body.get("thread_ts"),
            "time": now,
            "body": copy.deepcopy(body),
            "id": rid,
            "label": state.label,
        }
        state.records.append(record)
        if state.channel and state.message_ts:
            msg = self._messages.get((state.channel, state.message_ts))
            if msg is not None and not msg.deleted:
                if delete:
                    msg.deleted = True
                    msg.deleted_at = now
                elif record["replace_original"]:
                    msg.versions.append(
                        {
                            "method": "response_url",
                            "text": text,
                            "blocks": blocks,
                            "attachments": attachments,
                            "thread_ts": msg.thread_ts,
                            "time": now,
                            "edited_ts": self._next_ts(),
                        }
                    )
        return 200, "ok", {}


def main(argv: list[str] | None = None) -> None:
    """Run a FakeSlack standalone: ``python -m bot.fakes.slack --port 8099``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="xoxb-test-token")
    args = parser.parse_args(argv)
    with FakeSlack(args.token, port=args.port) as fake:
        print(fake.api_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
