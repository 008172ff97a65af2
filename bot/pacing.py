"""Pacing calls to a remote that limits their rate: per-key token buckets that hand out send
times, shut a key for a Retry-After, and slow a key down when the remote refuses it.

Waiting out a 429 and then sending every queued call at once only collides again, and every
429 is a call that did nothing. So calls are paced before they are refused:

* a key with a known limit (Slack's chat.postMessage, per channel) gets a token bucket at that
  rate with a small burst;
* a key without one is not paced at all until the remote refuses it; then it is paced below
  the rate that was refused, and the pace relaxes gradually while no refusal comes;
* a refusal's Retry-After shuts the key until it has passed.

The bucket is kept in its GCRA form ("virtual scheduling"): `tat`, the theoretical arrival
time, moves on by one interval per call, and the next call may go at `tat - (burst - 1) *
interval`. So a caller is not told "no" but *when*: callers queued on one key are handed
distinct times one interval apart, in the order they asked, instead of all waking when the
key opens. A caller that will come back later (the tracker reschedules its row instead of
sleeping) names itself as the `holder` of its slot and keeps it until it comes back.

Pacing is per process: N processes send N times the rate (a refusal slows each down).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rate:
    """One call every `interval` seconds, up to `burst` at once after a quiet spell."""

    interval: float
    burst: int = 1


@dataclass(frozen=True)
class Backoff:
    """How a key slows down when the remote refuses it, and how it recovers."""

    window: float = 60.0  # seconds of sends a refusal is judged by (Slack's tiers are per minute)
    headroom: float = 0.8  # a key without a known limit is paced at this share of the refused rate
    first_at_most: float = 5.0  # seconds: a first refusal never paces slower than this...
    at_most: float = 30.0  # ...and repeated ones (each doubles the interval) not slower than this
    half_life: float = 60.0  # seconds without a refusal in which the slow-down halves
    negligible: float = 0.05  # seconds: a slow-down that has decayed below this is dropped


@dataclass(frozen=True)
class Slot:
    """When a call may go. `go`: the slot is the caller's, to use after `wait` seconds (no more
    than it said it would wait). Otherwise the caller should come back in `wait` seconds; a
    holder's slot is kept for it until then."""

    at: float  # clock time
    wait: float  # seconds from now
    go: bool


@dataclass
class _Key:
    rate: Rate | None  # the known limit, None when only refusals tell
    tat: float = -math.inf
    shut_until: float = -math.inf
    refused_at: float = -math.inf
    slow: float = 0.0  # the interval the last refusal set (0: none in force)
    slow_since: float = 0.0  # when that slow-down started to decay
    sends: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    held: dict[str, float] = field(default_factory=dict)  # holder → its slot's time
    prune_at: float = -math.inf


class Pacer:
    """Token buckets by key (a string such as "chat.postMessage:C123"), shared by threads."""

    def __init__(
        self,
        rate_for: Callable[[str], Rate | None] = lambda key: None,
        *,
        backoff: Backoff | None = None,
        hold_grace: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_for = rate_for
        self.backoff = backoff or Backoff()
        # A holder that comes back later than this after its slot lost it: sending much later
        # than planned would land too close to the next caller's slot.
        self.hold_grace = hold_grace
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        self._sweep_at = -math.inf

    # ---- asking for a slot -------------------------------------------------------------

    def reserve(self, key: str, *, holder: str | None = None, within: float = 0.0) -> Slot:
        """The next slot for a call on `key`. It is the caller's (`go`) when it is at most
        `within` seconds away. Otherwise a `holder` keeps it until it comes back for it, and
        anyone else is only told when the next slot is free (nothing is kept for them)."""
        with self._lock:
            now = self.clock()
            self._sweep(now)
            k = self._key(key)
            self._prune(k, now)
            if holder is not None and holder in k.held:
                at = k.held[holder]
                if now <= at + self.hold_grace:
                    if at - now <= within:
                        del k.held[holder]
                        self._sent(k, at)
                        return Slot(at, max(0.0, at - now), True)
                    return Slot(at, at - now, False)
                del k.held[holder]  # came back too late: that slot has gone by
            at = self._next(k, now)
            if at - now <= within:
                self._take(k, at)
                self._sent(k, at)
                return Slot(at, at - now, True)
            if holder is not None:
                self._take(k, at)
                k.held[holder] = at
            return Slot(at, at - now, False)

    def shut_for(self, key: str) -> float:
        """Seconds until a Retry-After on `key` has passed (0 when it is open)."""
        with self._lock:
            k = self._keys.get(key)
            return 0.0 if k is None else max(0.0, k.shut_until - self.clock())

    def interval(self, key: str) -> float:
        """Seconds between calls on `key` now (0: not paced)."""
        with self._lock:
            k = self._keys.get(key)
            if k is None:
                rate = self.rate_for(key)
                return rate.interval if rate else 0.0
            return self._interval(k, self.clock())

    def key_count(self) -> int:
        """How many keys hold state (keys as good as new are forgotten once a minute)."""
        with self._lock:
            return len(self._keys)

    # ---- what the remote said ----------------------------------------------------------

    def refused(
        self, key: str, retry_after: float, *, sent_at: float, holder: str | None = None
    ) -> Slot | None:
        """The remote refused a call on `key` sent at `sent_at` (clock time), asking to wait
        `retry_after` seconds: shut the key until then and slow it down (a call that was
        already in flight when an earlier refusal came says nothing new about the rate). The
        holders waiting keep their order, with slots after the window at the new pace; the
        refused call's `holder` goes first, and its slot is returned."""
        with self._lock:
            now = self.clock()
            k = self._key(key)
            k.shut_until = max(k.shut_until, now + retry_after)
            if sent_at >= k.refused_at:
                k.refused_at = now
                b = self.backoff
                slow = 2 * self._interval(k, now)
                if k.rate is None:
                    # No known limit: pace a little under the rate that was accepted until now
                    # (the calls sent in the window but the refused one).
                    recent = sum(1 for at in k.sends if at > now - b.window) - 1
                    slow = max(slow, min(b.first_at_most, b.window / max(1, recent) / b.headroom))
                k.slow = min(b.at_most, slow)
                k.slow_since = k.shut_until
            turns = dict(k.held)
            if holder is not None:
                turns[holder] = sent_at  # before anyone still waiting for a slot
            k.held.clear()
            k.tat = k.shut_until
            for waiting in sorted(turns, key=turns.__getitem__):
                at = self._next(k, now)
                self._take(k, at)
                k.held[waiting] = at
            if holder is None:
                return None
            return Slot(k.held[holder], k.held[holder] - now, False)

    # ---- the bucket ----------------------------------------------------------------------

    def _key(self, key: str) -> _Key:
        k = self._keys.get(key)
        if k is None:
            k = self._keys[key] = _Key(self.rate_for(key))
        return k

    def _interval(self, k: _Key, now: float) -> float:
        floor = k.rate.interval if k.rate else 0.0
        if k.slow:
            b = self.backoff
            decayed = k.slow * math.pow(0.5, max(0.0, now - k.slow_since) / b.half_life)
            if decayed > floor and decayed >= b.negligible:
                return decayed
            k.slow = 0.0  # recovered
        return floor

    def _next(self, k: _Key, now: float) -> float:
        interval = self._interval(k, now)
        # No bursts while slowed down after a refusal.
        burst = k.rate.burst if k.rate and not k.slow else 1
        return max(now, k.tat - (burst - 1) * interval, k.shut_until)

    def _take(self, k: _Key, at: float) -> None:
        k.tat = max(k.tat, at) + self._interval(k, at)

    def _sent(self, k: _Key, at: float) -> None:
        """A call goes at `at`: what a refusal's estimate of the accepted rate counts."""
        if k.rate is None:
            k.sends.append(at)
            while k.sends and k.sends[0] <= at - self.backoff.window:
                k.sends.popleft()

    def _prune(self, k: _Key, now: float) -> None:
        """Drop the slots of holders that never came back (each one idled its slot away)."""
        if now < k.prune_at:
            return
        k.prune_at = now + 1.0
        for holder, at in list(k.held.items()):
            if now > at + self.hold_grace:
                del k.held[holder]

    def _sweep(self, now: float) -> None:
        """Forget keys that are as good as new (e.g. channels not posted to for a while)."""
        if now < self._sweep_at:
            return
        self._sweep_at = now + 60.0
        quiet = now - self.backoff.window
        for name, k in list(self._keys.items()):
            if (
                k.tat <= now  # a full bucket
                and k.shut_until <= now
                and not k.held
                and not self._interval(k, now) > (k.rate.interval if k.rate else 0.0)
                and k.refused_at <= quiet
                and (not k.sends or k.sends[-1] <= quiet)
            ):
                del self._keys[name]
