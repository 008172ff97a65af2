"""The transport helpers PolytomicClient (client.py) is built from, kept apart so that the
client is only its endpoints and its request loop.

- `HeaderAuth` holds the Authorization value as a `Secret` (secret.py), so the key sits in no
  default-header dict and no repr, vars() dump or log shows it; `ACCEPT_ENCODING` is httpx's;
- `segment` quotes an ID as exactly one path segment, and `validate_idempotency_key` checks a
  POST's Idempotency-Key against what Polytomic accepts, both before anything is sent;
- `paginate` walks page tokens lazily and stops on a token the server repeats;
- `USER_AGENT` names the bot and its version.

Only client.py uses these; the package re-exports USER_AGENT and validate_idempotency_key.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Callable, Iterator
from typing import Final, TypeVar
from urllib.parse import quote

from httpx._decoders import SUPPORTED_DECODERS

from bot.polytomic.secret import Secret

__all__ = ["USER_AGENT", "validate_idempotency_key"]

logger = logging.getLogger("bot.polytomic")  # one logger for the whole package
_T = TypeVar("_T")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,255}")


def _package_version() -> str:
    try:
        return importlib.metadata.version("polytomic-bot")
    except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
        return "0"


USER_AGENT: Final = f"polytomic-bot/{_package_version()}"
# What httpx.Client would send: the encodings its decoders read (gzip, deflate; br and zstd
# when their packages are installed).
ACCEPT_ENCODING: Final = ", ".join(key for key in SUPPORTED_DECODERS if key != "identity")


# --------------------------------------------------------------------------- request helpers


def validate_idempotency_key(key: str) -> str:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency key must be 8-255 characters of A-Z, a-z, 0-9, '_' or '-'")
    return key


def segment(value: str, what: str) -> str:
    """Quote an ID for use as ONE path segment: '/', '?', '#' and '%' cannot escape it."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    # httpx resolves dot segments, so '..' would climb out even though it needs no quoting.
    if value in (".", ".."):
        raise ValueError(f"{what} must not be '.' or '..'")
    return quote(value, safe="")


def bool_param(value: bool) -> str:
    return "true" if value else "false"


class HeaderAuth:
    """The Authorization header's value, held as a `Secret` so that the key sits in no
    default-header dict and no repr shows it; the client sets it on each request."""

    __slots__ = ("_header",)

    def __init__(self, header: str) -> None:
        self._header = Secret(header)

    def __repr__(self) -> str:
        return "HeaderAuth(<redacted>)"

    @property
    def value(self) -> str:
        return self._header.value


def paginate(page: Callable[[str | None], tuple[list[_T], str | None]], what: str) -> Iterator[_T]:
    token: str | None = None
    seen: set[str] = set()
    while True:
        items, token = page(token)
        yield from items
        if not token:
            return
        if token in seen:
            # A server bug must not turn a listing into an endless loop.
            logger.warning("polytomic %s: page token repeated; stopping pagination", what)
            return
        seen.add(token)
