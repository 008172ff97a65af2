"""Making the fake Slack misbehave: injected errors, one-off 429s, a held 429 window, a sliding
window per method, Slack's own limits (`real_limits`), latency, answers dripped a byte at a time
(`set_drip`) and redirects (`inject_redirect`); and the bookkeeping that
records a call arriving while a 429's Retry-After window for its key is still shut
(`window_violations`), which is how the tests catch a client that does not honour Retry-After.

The limiters themselves are in limits.py; the Web API entry (server.py) consults these for
every call, in this order: the shut window, the limits, the injected errors.
"""

from __future__ import annotations

import math
import time

from bot.fakes.slack.limits import IN_FLIGHT_GRACE, RateLimit, slack_limits, window_key
from bot.fakes.slack.records import WindowViolation
from bot.fakes.slack.state import Injection, SlackState


class Faults(SlackState):
    """Fault injection and rate limits (FakeSlack's fault methods)."""

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
                Injection(method=method, remaining=times, error=error, status=status, channel=channel)
            )

    def inject_redirect(self, method: str, location: str, *, status: int = 302, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``status`` with ``Location: location``
        (a proxy or a wrong SLACK_API_URL sending the bot elsewhere)."""
        with self._lock:
            self._injections.append(
                Injection(method=method, remaining=times, error="redirect", status=status, location=location)
            )

    def set_drip(self, method: str, seconds: float) -> None:
        """Send answers to ``method`` (``"*"`` = every method) one byte every ``seconds``: every
        read is in time for a per-read timeout, the answer never. 0 removes it."""
        with self._lock:
            if seconds <= 0:
                self._drip.pop(method, None)
            else:
                self._drip[method] = seconds

    def inject_rate_limit(
        self, method: str, retry_after: float | str = 1, *, times: int = 1, channel: str | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 ``ratelimited`` with
        ``Retry-After: retry_after`` (a str is sent as is: "1e300" from a broken proxy)."""
        with self._lock:
            self._injections.append(
                Injection(
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
                self._rate_limits[method] = RateLimit(max_calls, per_seconds, per_channel)

    def set_real_limits(self, enabled: bool = True) -> None:
        """Enforce Slack's own rate limits (see TIER_PER_MINUTE, POST_MESSAGE_*), from now on.
        A ``set_rate_limit`` on a method takes precedence over its real limit."""
        with self._lock:
            self._real_limits = slack_limits() if enabled else {}

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
            self._drip.clear()
            for state in self._response_urls.values():
                state.failures.clear()

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
        key = window_key(method, channel)
        refused_at, until = self._shut.get(key, (now, now))
        if until <= now:
            refused_at = now  # a new window; a still-open one keeps when it was first told
        self._shut[key] = (refused_at, max(until, now + retry_after))

    def _check_window(self, method: str, channel: str | None, now: float) -> None:
        key = window_key(method, channel)
        shut = self._shut.get(key)
        if shut is None:
            return
        refused_at, until = shut
        if now >= until:
            del self._shut[key]
        elif now >= refused_at + IN_FLIGHT_GRACE:
            self._violations.append(WindowViolation(method, key[1], now, refused_at, until))
