"""Slack's rate limits as the fake enforces them, and the two limiters it uses: a sliding
window (the tiers' calls per minute, and `set_rate_limit`) and a token bucket
(chat.postMessage's about one a second per channel, with a short burst).

Pure: the limiters take the time as an argument and keep no lock; FakeSlack calls them under
its own (faults.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

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
    "views.publish": 100,  # Tier 4
    "views.open": 100,  # Tier 4
    "usergroups.list": 20,  # Tier 2
    "usergroups.users.list": 20,  # Tier 2
}
# A call that arrives this soon after a 429 was answered may have been sent before the
# client read it: it is not counted as sent inside the window.
IN_FLIGHT_GRACE = 0.1


@dataclass
class RateLimit:
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
class TokenBucket:
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


def slack_limits() -> dict[str, RateLimit | TokenBucket]:
    limits: dict[str, RateLimit | TokenBucket] = {
        method: RateLimit(per_minute, 60.0, per_channel=False)
        for method, per_minute in TIER_PER_MINUTE.items()
    }
    limits["chat.postMessage"] = TokenBucket(POST_MESSAGE_PER_SECOND, POST_MESSAGE_BURST, per_channel=True)
    return limits


def window_key(method: str, channel: str | None) -> tuple[str, str | None]:
    """Slack limits chat.postMessage per channel and every other method as a whole."""
    return (method, channel if method == "chat.postMessage" else None)
