"""Tolerant readers of JSON values, shared by the modules that turn Polytomic's answers into
typed values (models.py, events.py).

Polytomic's SDKs mark every field optional, and a self-hosted deployment may answer an older
shape, so each reader takes any JSON value and returns the wanted type or None (an empty value
for containers): what cannot be read never raises. Imports no other bot module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["as_bool", "as_dict", "as_int", "as_str", "as_str_tuple", "parse_timestamp"]


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: object) -> str | None:
    """A string as is; a number as its decimal text (IDs are sometimes sent as numbers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_str_tuple(value: object) -> tuple[str, ...]:
    """The strings of a list, in order; anything else is dropped."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def parse_timestamp(value: object) -> datetime | None:
    """RFC 3339 -> aware UTC datetime (nanoseconds, as Go sends them, cut to microseconds);
    anything unparseable -> None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    # Go's zero time ("0001-01-01T00:00:00Z") means "not set", not the year 1.
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
