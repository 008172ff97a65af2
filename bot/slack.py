"""The one Slack Web API setup: the client, a rate-limit gate shared by every thread, the
user-group member cache, and replies through response_url.

slack_sdk's RateLimitErrorRetryHandler only makes the calling thread sleep; other threads
keep calling inside the Retry-After window and collect more 429s. So the tracker's calls go
through `SlackGateway`, which paces them (bot.pacing) per method, per channel for
chat.postMessage: chat.postMessage at Slack's rate, any other method only once Slack has
refused it; a 429 shuts its key until Retry-After has passed. A call whose slot is more than
a moment away raises `Throttled` with the time of that slot, so the caller reschedules
instead of sleeping, and comes back when its turn has come; the row keeps the state that
was not yet shown, so nothing is dropped.

Every failed call raises a `SlackError` (the hierarchy is drawn in its docstring): `Throttled`
and `SlackFailure` under one base, each saying whether it is `transient` and, like every
transient error of Polytomic's, carrying `retry_after`.

Both clients send through bot.slack_http: SLACK_DEADLINE seconds at most for a whole attempt
(a Slack that drips its answer ends as `SlackTimedOut`), and a 3xx is a failure, never followed
(the bot token would go to whatever host it names).
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

from bot.config import DEFAULT_SLACK_POST_INTERVAL, DEFAULT_SLACK_VIEWS_INTERVAL, Settings
from bot.pacing import Pacer, Rate
from bot.slack_http import BoundedWebClient, BoundedWebhookClient, DeadlineExceeded, Redirected
from bot.views.blocks import View

log = logging.getLogger("bot.slack")

# Errors that will not go away by trying again: the bot must do something else instead.
PERMANENT_CHANNEL_ERRORS = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "msg_too_long"}
)
SLACK_TIMEOUT = 10  # seconds per socket operation
# Seconds for a whole attempt, whatever Slack drips: a stuck Slack holds a tracker thread no longer.
SLACK_DEADLINE = 10.0
# A longer Retry-After is a broken proxy, not a plan (1e300 once overflowed the pacer).
MAX_SLACK_RETRY_AFTER = 300.0
# A response_url answer that is refused with 429 waits in place (slack_sdk's handler) this long
# at most, in a responder thread.
RESPOND_MAX_RETRY_AFTER = 5.0
# chat.postMessage: about 1 a second per channel, short bursts allowed (PLATFORM.md): posts are
# spaced SLACK_POST_INTERVAL apart (a little wider than 1 s), after a burst of this many.
POST_MESSAGE_BURST = 2
# views.publish (Tier 4, 100+ a minute): a burst of this many, then SLACK_VIEWS_INTERVAL apart.
VIEWS_PUBLISH_BURST = 20
# Seconds a call waits in place for its slot: less than a reschedule costs, and short enough
# that a tracker thread is not held (further slots raise Throttled to come back for them).
WAIT_IN_PLACE = 0.25


class SlackError(Exception):
    """A Slack Web API call that did not do what was asked. Catch this to catch them all:

    * SlackError        `method`, `transient`, `retry_after`
      + Throttled       transient: Slack's rate limit (a 429, or the pace that avoids one);
                        `retry_after` is when this call's turn comes
      + SlackFailure    Slack answered ok=false, or could not be reached; `error` is Slack's code
                        (or `redirected`: a 3xx, not followed). Transient unless `permanent` (the
                        channel can't be used: not_in_channel, channel_not_found, …);
                        `retry_after` None (back off on your own)
        - SlackTimedOut no complete answer within SLACK_DEADLINE; transient

    As with Polytomic's errors (bot.polytomic.errors), code that turns an error into a decision
    reads `transient` and `retry_after` instead of listing classes.
    """

    retry_after: float | None = None

    def __init__(self, method: str, message: str) -> None:
        self.method = method
        super().__init__(message)

    @property
    def transient(self) -> bool:
        return True


class Throttled(SlackError):
    """Not sent: Slack's rate limit (a 429, or the pace that avoids one) says to try again in
    `retry_after` seconds."""

    retry_after: float

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, f"Slack rate limit: {method} must wait {retry_after:.1f} s")
        self.retry_after = retry_after


class SlackFailure(SlackError):
    """Slack answered ok=false (or the call failed); `error` is Slack's error code."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(method, f"Slack {method} failed: {error}")
        self.error = error

    @property
    def permanent(self) -> bool:
        return self.error in PERMANENT_CHANNEL_ERRORS

    @property
    def transient(self) -> bool:
        return not self.permanent


class SlackTimedOut(SlackFailure):
    """No complete answer within the call's deadline (Slack, or a proxy, stuck or dripping)."""

    def __init__(self, method: str) -> None:
        super().__init__(method, "timeout")


def make_web_client(settings: Settings) -> WebClient:
    return BoundedWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
        deadline=SLACK_DEADLINE,
        max_retry_after=MAX_SLACK_RETRY_AFTER,
    )


def _retry_after(error: SlackApiError) -> float:
    headers = getattr(error.response, "headers", {}) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                seconds = float(raw)
            except (TypeError, ValueError):
                break
            if seconds != seconds:  # NaN
                break
            return min(max(1.0, seconds), MAX_SLACK_RETRY_AFTER)
    return 1.0


def known_limits(
    post_interval: float = DEFAULT_SLACK_POST_INTERVAL, views_interval: float = DEFAULT_SLACK_VIEWS_INTERVAL
) -> Callable[[str], Rate | None]:
    """The pace of each gate whose limit is known: chat.postMessage, per channel, and
    views.publish (the Home tab). Any other gate (and these, with an interval of 0) is paced
    only once Slack has refused it. views.open is not paced: its trigger_id lasts 3 seconds."""
    post = Rate(post_interval, POST_MESSAGE_BURST) if post_interval > 0 else None
    views = Rate(views_interval, VIEWS_PUBLISH_BURST) if views_interval > 0 else None

    def limit(gate: str) -> Rate | None:
        if gate.startswith("chat.postMessage:"):
            return post
        return views if gate == "views.publish" else None

    return limit


@dataclass
class _CachedGroup:
    members: frozenset[str]
    expires: float


class SlackGateway:
    """Calls the Slack Web API for the tracker and the responders, paced across threads."""

    def __init__(
        self,
        client: WebClient,
        *,
        group_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        post_interval: float = DEFAULT_SLACK_POST_INTERVAL,
        views_interval: float = DEFAULT_SLACK_VIEWS_INTERVAL,
        pacer: Pacer | None = None,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.group_ttl = group_ttl
        self.clock = clock
        self.sleep = sleep
        self.pacer = (
            pacer if pacer is not None else Pacer(known_limits(post_interval, views_interval), clock=clock)
        )
        self.on_error = on_error or (lambda method, error: None)
        self._lock = threading.Lock()
        self._groups: dict[str, _CachedGroup] = {}
        self._workspace_url: str | None = None

    def call(
        self,
        method: str,
        gate: str | None = None,
        *,
        holder: str | None = None,
        wait: float = WAIT_IN_PLACE,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One Web API call, in its turn: waits up to `wait` seconds for its slot, else raises
        Throttled with the time until it (a `holder` keeps that slot until it comes back for
        it). Raises SlackFailure when Slack answers ok=false."""
        gate = gate or method
        slot = self.pacer.reserve(gate, holder=holder, within=wait)
        if not slot.go:
            # Come back a moment early and wait the rest in place: the slot is not missed.
            raise Throttled(method, max(0.0, slot.wait - wait))
        if slot.wait > 0:
            self.sleep(slot.wait)
            shut = self.pacer.shut_for(gate)  # a 429 may have come while this call waited
            if shut > 0:
                raise Throttled(method, shut)
        sent_at = self.clock()
        try:
            # chat.* and views.* take JSON bodies (blocks, views); read methods such as
            # usergroups.users.list only take form fields.
            if method.startswith(("chat.", "views.")):
                response = self.client.api_call(method, json=kwargs)
            else:
                response = self.client.api_call(method, params=kwargs)
        except SlackApiError as error:
            if error.response is not None and error.response.status_code == 429:
                retry_after = _retry_after(error)
                self.on_error(method, "ratelimited")
                log.warning("slack rate limit", extra={"method": method, "retry_after": retry_after})
                # A holder's call was the one refused: it is first in line when the window ends.
                turn = self.pacer.refused(gate, retry_after, sent_at=sent_at, holder=holder)
                if turn is not None:
                    retry_after = max(0.0, turn.wait - wait)
                raise Throttled(method, retry_after) from None
            code = (
                str((error.response.data or {}).get("error", "unknown_error")) if error.response else "error"
            )
            self.on_error(method, code)
            raise SlackFailure(method, code) from None
        except DeadlineExceeded:
            self.on_error(method, "timeout")
            raise SlackTimedOut(method) from None
        except Redirected:
            # The token stayed here; what the other host would have said (a ts) is never read.
            self.on_error(method, "redirected")
            raise SlackFailure(method, "redirected") from None
        except (SlackClientError, OSError) as error:
            self.on_error(method, "connection_error")
            raise SlackFailure(method, f"connection_error: {type(error).__name__}") from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post_message(
        self, channel: str, view: View, *, thread_ts: str | None = None, holder: str | None = None
    ) -> str:
        args: dict[str, Any] = {"channel": channel, "text": view.text, "blocks": view.blocks}
        if thread_ts:
            args["thread_ts"] = thread_ts
        # Slack's limit for chat.postMessage is per channel, so the gate is too.
        data = self.call(
            "chat.postMessage", gate=f"chat.postMessage:{channel}", holder=holder, unfurl_links=False, **args
        )
        return str(data["ts"])

    def update_message(self, channel: str, ts: str, view: View, *, holder: str | None = None) -> None:
        self.call("chat.update", holder=holder, channel=channel, ts=ts, text=view.text, blocks=view.blocks)

    def publish_home(self, user_id: str, view: dict[str, Any], *, wait: float) -> None:
        """views.publish of `user_id`'s Home tab, in its turn (Tier 4, paced): waits up to `wait`
        seconds for its slot, else raises Throttled with the time until it, a slot kept for this
        user's publish until it comes back for it (so that queued publishes get distinct turns)."""
        self.call("views.publish", holder=f"home-{user_id}", wait=wait, user_id=user_id, view=view)

    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        """views.open with a click's trigger_id (which Slack honours for 3 seconds): not paced."""
        self.call("views.open", wait=0.0, trigger_id=trigger_id, view=view)

    def workspace_url(self) -> str | None:
        """The workspace's URL (`https://<domain>.slack.com/`, from auth.test, asked once per
        process): messages' links are built on it. None when Slack could not say."""
        if self._workspace_url is None:
            try:
                url = self.call("auth.test").get("url")
            except SlackError:
                return None
            if isinstance(url, str) and url.startswith("https://") and url.endswith("/"):
                self._workspace_url = url
            elif isinstance(url, str) and url.startswith("http"):
                self._workspace_url = url.rstrip("/") + "/"
        return self._workspace_url

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
    client = BoundedWebhookClient(
        response_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
        deadline=SLACK_DEADLINE,
        max_retry_after=RESPOND_MAX_RETRY_AFTER,
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
