"""What a test reads off the fake Slack: the recorded requests, the bot's messages (with every
version), threads, ephemerals, rate-limited calls and window violations, the fake's own
errors, and `wait_for`, which polls a predicate and, on a timeout, says what it waited for
and shows the recent requests.

Every accessor takes the lock and returns a deep copy: re-read to see later changes.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable
from typing import Any, Self

from bot.fakes.slack.records import Ephemeral, Message, RecordedCall, WindowViolation
from bot.fakes.slack.state import SlackState


def _describe_predicate(predicate: Callable[..., Any]) -> str:
    name = getattr(predicate, "__name__", repr(predicate))
    if name == "<lambda>":
        try:
            return inspect.getsource(predicate).strip()
        except (OSError, TypeError):
            return repr(predicate)
    doc = (getattr(predicate, "__doc__", None) or "").strip()
    return f"{name}: {doc}" if doc else name


class Inspection(SlackState):
    """The records, as snapshots, and waiting for them."""

    @property
    def requests(self) -> list[RecordedCall]:
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def recorded_total(self) -> int:
        """How many requests were ever recorded (`max_records` drops none from this count): it
        moves whenever anything the bot can change has changed, so a reader can skip a rebuild."""
        with self._lock:
            return self._recorded_total

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
        predicate: Callable[[Self], bool],
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
