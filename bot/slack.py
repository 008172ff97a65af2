"""The one Slack Web API setup: the client, a rate-limit gate shared by every thread, the
user-group member cache, and replies through response_url.

slack_sdk's RateLimitErrorRetryHandler only makes the calling thread sleep; other threads
keep calling inside the Retry-After window and collect more 429s. So the tracker's calls go
through `SlackGateway`, which remembers a 429 per method (per channel for chat.postMessage)
and refuses further calls until it has passed, raising `Throttled` so the caller reschedules
instead of sleeping. The row keeps the state that was not yet shown, so nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.config import Settings
from bot.views.blocks import View

log = logging.getLogger("bot.slack")

# Errors that will not go away by trying again: the bot must do something else instead.
PERMANENT_CHANNEL_ERRORS = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "msg_too_long"}
)
SLACK_TIMEOUT = 10  # seconds per call; a hung Slack must not hold a tracker thread for long


class Throttled(Exception):
    """Slack asked us to wait (429): nothing was sent; try again at `retry_at` (monotonic)."""

    def __init__(self, method: str, retry_after: float) -> None:
        self.method = method
        self.retry_after = retry_after
        super().__init__(f"Slack rate-limited {method} for {retry_after:.0f} s")


class SlackFailure(Exception):
    """Slack answered ok=false (or the call failed); `error` is Slack's error code."""

    def __init__(self, method: str, error: str) -> None:
        self.method = method
        self.error = error
        super().__init__(f"Slack {method} failed: {error}")

    @property
    def permanent(self) -> bool:
        return self.error in PERMANENT_CHANNEL_ERRORS


def make_web_client(settings: Settings) -> WebClient:
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )


def _retry_after(error: SlackApiError) -> float:
    headers = getattr(error.response, "headers", {}) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(raw))
            except (TypeError, ValueError):
                break
    return 1.0


@dataclass
class _CachedGroup:
    members: frozenset[str]
    expires: float


class SlackGateway:
    """Calls the Slack Web API for the tracker and the responders, honouring 429s across threads."""

    def __init__(
        self,
        client: WebClient,
        *,
        group_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.group_ttl = group_ttl
        self.clock = clock
        self.on_error = on_error or (lambda method, error: None)
        self._lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}
        self._groups: dict[str, _CachedGroup] = {}

    def blocked_for(self, gate: str) -> float:
        with self._lock:
            return max(0.0, self._blocked_until.get(gate, 0.0) - self.clock())

    def call(self, method: str, gate: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """One Web API call; raises Throttled while the gate is shut, SlackFailure on ok=false."""
        gate = gate or method
        wait = self.blocked_for(gate)
        if wait > 0:
            raise Throttled(method, wait)
        try:
            # chat.* take JSON bodies (blocks); read methods such as usergroups.users.list
            # only take form fields.
            if method.startswith("chat."):
                response = self.client.api_call(method, json=kwargs)
            else:
                response = self.client.api_call(method, params=kwargs)
        except SlackApiError as error:
            if error.response is not None and error.response.status_code == 429:
                retry_after = _retry_after(error)
                with self._lock:
                    self._blocked_until[gate] = self.clock() + retry_after
                self.on_error(method, "ratelimited")
                log.warning("slack rate limit", extra={"method": method, "retry_after": retry_after})
                raise Throttled(method, retry_after) from None
            code = (
                str((error.response.data or {}).get("error", "unknown_error")) if error.response else "error"
            )
            self.on_error(method, code)
            raise SlackFailure(method, code) from None
        except (SlackClientError, OSError) as error:
            self.on_error(method, "connection_error")
            raise SlackFailure(method, f"connection_error: {type(error).__name__}") from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post_message(self, channel: str, view: View, *, thread_ts: str | None = None) -> str:
        args: dict[str, Any] = {"channel": channel, "text": view.text, "blocks": view.blocks}
        if thread_ts:
            args["thread_ts"] = thread_ts
        # Slack's limit for chat.postMessage is per channel, so the gate is too.
        data = self.call("chat.postMessage", gate=f"chat.postMessage:{channel}", unfurl_links=False, **args)
        return str(data["ts"])

    def update_message(self, channel: str, ts: str, view: View) -> None:
        self.call("chat.update", channel=channel, ts=ts, text=view.text, blocks=view.blocks)

    def group_members(self, group_id: str) -> frozenset[str]:
        """Members of a user group, cached for group_ttl seconds. Raises on transient failures."""
        now = self.clock()
        with self._lock:
            cached = self._groups.get(group_id)
        if cached and cached.expires > now:
            return cached.members
        try:
            data = self.call("usergroups.users.list", usergroup=group_id)
            members = frozenset(str(u) for u in data.get("users", []))
        except SlackFailure as failure:
            if failure.error not in ("no_such_subteam", "plan_upgrade_required", "subteam_not_found"):
                raise
            members = frozenset()  # the group can't grant anything; remember that too
        with self._lock:
            self._groups[group_id] = _CachedGroup(members, now + self.group_ttl)
        return members


def respond(
    response_url: str,
    view: View | None,
    *,
    replace_original: bool = False,
    delete_original: bool = False,
) -> bool:
    """Answer through a response_url (5 uses in 30 min); True when Slack took it."""
    client = WebhookClient(
        response_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )
    body: dict[str, Any] = {"response_type": "ephemeral"}
    if delete_original:
        body["delete_original"] = True
    else:
        assert view is not None
        body.update(text=view.text, blocks=view.blocks, replace_original=replace_original)
    try:
        response = client.send_dict(body)
    except (SlackClientError, OSError) as error:
        log.warning("response_url failed: %s", type(error).__name__)
        return False
    if response.status_code != 200:
        log.warning("response_url answered %s", response.status_code)
        return False
    return True
