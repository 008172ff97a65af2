"""What every module of the fake Polytomic shares: execution status sets, time formatting,
the API's error body, and the strict parsing of query values (booleans, RFC 3339 times).

Kept apart so that the modules holding state (syncs.py, executions.py, events.py, webhooks.py,
connections.py) and the server (server.py and its mixins) use one definition of each.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "ACTIVE_STATUSES",
    "CANCEL_MESSAGE",
    "DEFAULT_API_KEY",
    "IDEMPOTENCY_KEY",
    "MAX_PAGE",
    "PENDING_STATUSES",
    "RUNNING_STATUSES",
    "TERMINAL_STATUSES",
    "Answer",
    "error_body",
    "log",
    "parse_bool",
    "parse_rfc3339_ns",
    "rfc3339",
    "wall_datetime",
]

log = logging.getLogger("bot.fakes.polytomic")

DEFAULT_API_KEY: Final = "test-polytomic-key"
PENDING_STATUSES: Final = frozenset({"created", "scheduled", "queued", "waiting"})
RUNNING_STATUSES: Final = frozenset({"running", "processing"})
ACTIVE_STATUSES: Final = PENDING_STATUSES | RUNNING_STATUSES | {"canceling"}
TERMINAL_STATUSES: Final = frozenset({"canceled", "completed", "failed", "interrupted"})
CANCEL_MESSAGE: Final = "Cancellation requested"
IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,255}")
MAX_PAGE: Final = 50

# (status, body): a body of None is answered with no content at all (a DELETE's 200).
Answer = tuple[int, dict[str, Any] | None]

_RFC3339: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def wall_datetime(ts: float) -> datetime:
    """Unix time -> aware UTC datetime, rounded to the microsecond (what rfc3339 prints)."""
    return datetime.fromtimestamp(ts, UTC)


def rfc3339(ts: float) -> str:
    """Unix time -> RFC 3339 UTC with microseconds ("2025-09-18T10:11:12.123456Z")."""
    return wall_datetime(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339_ns(value: str) -> int | None:
    """An RFC 3339 timestamp, as Go's time.Parse(time.RFC3339Nano) reads it, to integer
    nanoseconds since the epoch (so that nanosecond precision survives); None if it is not
    one. A date alone, a missing offset or a space instead of the T is refused."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    whole, fraction, offset = match.groups()
    try:
        parsed = datetime.fromisoformat(whole + ("+00:00" if offset.upper() == "Z" else offset))
    except ValueError:  # 2025-13-45T...
        return None
    seconds = (parsed - _EPOCH) // _SECOND
    nanos = int((fraction or "").ljust(9, "0"))
    return seconds * 1_000_000_000 + nanos


_SECOND: Final = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC) - _EPOCH


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"status": status, "message": message}


def parse_bool(value: str) -> bool | None:
    # As lenient as Go's strconv.ParseBool; anything else is answered with a 400.
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None
