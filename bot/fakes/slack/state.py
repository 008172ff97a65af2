"""FakeSlack's state, and the few rules that several of its parts apply to it.

Every mixin of FakeSlack (workspace.py, methods.py, response_urls.py, faults.py,
inspection.py, and server.py, which puts them together) derives from `SlackState`, so each
module holds one concept while all of them share one lock and one set of records. The
constructor is here, with the fake's settings; so are the rules that both the Web API methods
and the response_url sink need: which channel a name means and whether the bot may post there,
what a message's text and blocks may be, and the clock that makes message timestamps unique.

Everything under `_lock`: a caller holds it while it reads or changes state.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bot.fakes.slack.blocks import validate_blocks
from bot.fakes.slack.limits import RateLimit, TokenBucket, slack_limits
from bot.fakes.slack.plumbing import Server
from bot.fakes.slack.records import Channel, Ephemeral, Message, RecordedCall, WindowViolation

DEFAULT_SCOPES = "commands,chat:write,chat:write.public,usergroups:read,users:read"
MAX_TEXT_LENGTH = 40_000


@dataclass
class Injection:
    method: str
    remaining: int
    error: str = "ratelimited"
    status: int = 200
    retry_after: float | str | None = None
    channel: str | None = None
    location: str | None = None  # a 3xx's Location

    def matches(self, method: str, channel: str | None) -> bool:
        return (
            self.remaining > 0
            and self.method in (method, "*")
            and (self.channel is None or self.channel == channel)
        )


@dataclass
class ResponseUrl:
    id: str
    label: str | None
    created: float
    channel: str | None = None
    message_ts: str | None = None
    uses: int = 0
    expired: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Injection] = field(default_factory=list)


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackState:
    """The settings and state of one FakeSlack, behind one lock."""

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
        max_records: int | None = None,
    ) -> None:
        """`max_records` bounds what a long-lived fake (the demo) keeps: recorded requests, the
        bot's messages, ephemerals, response_urls, each user's Home views and the modals, each
        list its oldest dropped first (view IDs stay unique); None (tests) keeps everything."""
        if max_records is not None and max_records < 1:
            raise ValueError("max_records must be at least 1")
        self.max_records = max_records
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
        self._recorded_total = 0  # every request ever recorded, however many were dropped
        self._messages: dict[tuple[str, str], Message] = {}
        self._ephemerals: list[Ephemeral] = []
        self._channels: dict[str, Channel] = {}
        self._removed_channels: set[str] = set()
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._plan_upgrade_required = False
        self._injections: list[Injection] = []
        self._rate_windows: dict[tuple[str, str | None], float] = {}
        self._rate_limits: dict[str, RateLimit] = {}
        self._real_limits: dict[str, RateLimit | TokenBucket] = slack_limits() if real_limits else {}
        self._shut: dict[tuple[str, str | None], tuple[float, float]] = {}  # refused at, until
        self._violations: list[WindowViolation] = []
        self._latency: dict[str, float] = {}
        self._drip: dict[str, float] = {}  # method -> seconds between the bytes of its answers
        self._response_urls: dict[str, ResponseUrl] = {}
        self._response_counter = itertools.count(1)
        self._last_ts_us = 0
        self._internal_errors: list[str] = []
        self._home_tab_enabled = True
        self._home_views: dict[str, list[dict[str, Any]]] = {}  # user -> views published (views.py)
        self._modals: list[dict[str, Any]] = []
        self._used_triggers: set[str] = set()
        self._views_made: dict[str, int] = {}  # views published per user ("": modals), for their IDs

        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- where it listens

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

    # ----------------------------------------------------------------- rules the parts share

    def _scope_set(self) -> set[str]:
        return {s.strip() for s in self._scopes.split(",") if s.strip()}

    def _latency_for(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency.get("*", 0.0))

    def _drip_for(self, method: str) -> float:
        with self._lock:
            return self._drip.get(method, self._drip.get("*", 0.0))

    def _record(self, call: RecordedCall) -> None:
        self._requests.append(call)
        self._recorded_total += 1
        self._bound()

    def _bound(self) -> None:
        """Drop the oldest records beyond `max_records` (a tenth more first, so a long run trims
        now and then rather than on every call). Lock held."""
        cap = self.max_records
        if cap is None:
            return
        slack = cap + max(1, cap // 10)
        if len(self._requests) > slack:
            del self._requests[: len(self._requests) - cap]
        if len(self._ephemerals) > slack:
            del self._ephemerals[: len(self._ephemerals) - cap]
        _drop_oldest(self._messages, cap, slack)
        _drop_oldest(self._response_urls, cap, slack)
        for views in (*self._home_views.values(), self._modals):
            if len(views) > slack:
                del views[: len(views) - cap]
        if len(self._used_triggers) > slack:  # those past their 3 s are refused as expired anyway
            stale = time.time() - 10
            self._used_triggers = {t for t in self._used_triggers if _trigger_time(t) >= stale}

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
            if raw.startswith(("U", "W")):
                # chat.postMessage to a user ID posts in the bot's DM with them (its App Home's
                # Messages tab), as Slack does; messages_in(<user ID>) reads it.
                self._channels[raw] = Channel(id=raw, name=raw.lower(), is_private=True, is_im=True)
                return self._channels[raw]
        return None

    def _postable_channel(self, raw: Any) -> Channel:
        channel = self._resolve_channel(raw)
        if channel is None:
            raise ApiError("channel_not_found")
        if channel.is_archived:
            raise ApiError("is_archived")
        if not channel.is_member and (channel.is_private or "chat:write.public" not in self._scope_set()):
            raise ApiError("not_in_channel")
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
                raise ApiError("invalid_blocks_format")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise ApiError("invalid_blocks_format")
            if self.strict_blocks:
                errors = validate_blocks(blocks)
                if errors:
                    raise ApiError("invalid_blocks", errors=errors, response_metadata={"messages": errors})
        attachments = params.get("attachments")
        if isinstance(attachments, str):
            raise ApiError("invalid_attachments")
        if require and not text and not blocks and not attachments:
            raise ApiError("no_text")
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise ApiError("msg_too_long")
        return text, blocks, attachments


def _drop_oldest(table: dict[Any, Any], cap: int, slack: int) -> None:
    """Keep the newest `cap` entries of an insertion-ordered dict once it holds over `slack`."""
    if len(table) > slack:
        for key in list(itertools.islice(iter(table), len(table) - cap)):
            del table[key]


def _trigger_time(trigger_id: str) -> float:
    """The Unix time a trigger_id starts with (`<unix time>.<digits>.<hex>`); 0 if none."""
    head = trigger_id.split(".", 1)[0]
    return float(head) if head.isdigit() else 0.0
