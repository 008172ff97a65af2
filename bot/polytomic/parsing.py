"""Tolerant readers of JSON values, shared by the modules that turn Polytomic's answers into
typed values (models.py, events.py).

Polytomic's SDKs mark every field optional, and a self-hosted deployment may answer an older
shape, so each reader takes any JSON value and returns the wanted type or None (an empty value
for containers): what cannot be read never raises.

Every string a reader returns is `clean`: no NUL, no other control character but tab and
newline, no lone surrogate. PostgreSQL refuses a NUL in a text column and a lone surrogate
cannot be encoded, so one such character in a sync's name or an error text would make the
write that records a cancel fail, again on every retry. Cleaning here, where Polytomic's
strings enter the bot, covers every later store and view. (How a name is *shown*, its
whitespace and invisible characters, is the views' business: bot/views/blocks.py.)

No reader recurses into a value or prints one whole: an answer nested deep enough to reach the
parser's limit is refused before it gets here (the client makes it a PolytomicError), and one
just below it is read field by field, never walked. Imports no other bot module.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "as_bool",
    "as_dict",
    "as_int",
    "as_str",
    "as_str_tuple",
    "clean",
    "parse_timestamp",
]

# C0 controls but tab and newline, DEL, C1 controls, and lone surrogates (JSON's "\ud800").
_UNSTORABLE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` without the characters no store or message should hold (see the docstring).
    A carriage return goes too: a newline alone already ends a line."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: object) -> str | None:
    """A string as is; a number as its decimal text (IDs are sometimes sent as numbers)."""
    if isinstance(value, str):
        return clean(value)
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
    return tuple(clean(item) for item in value if isinstance(item, str))


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
