"""What the body of a failed call says: Polytomic's message and key (parse_error_body), and
text fit for an error message (error_text: tags dropped, whitespace folded, at most 200
characters).

errors.py reads every failed answer with these, and the client cuts a 2xx that is not JSON with
error_text. The body comes from the server, or from a gateway in front of it, so it may be the
documented `{"status", "message"}`, the older `{"error": {"message"}}`, an HTML page, or
nothing; each is read without raising. Imports no other bot module but parsing.py.
"""

from __future__ import annotations

import json
import re
from typing import Final

from bot.polytomic.parsing import as_str as _str
from bot.polytomic.parsing import clean

__all__ = ["error_text", "parse_error_body"]

_ERROR_TEXT_LIMIT: Final = 200
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def error_text(text: str) -> str:
    """Text fit for an error message: tags dropped, whitespace folded, at most 200 characters."""
    text = _SPACE.sub(" ", _TAG.sub(" ", clean(text))).strip()
    if len(text) > _ERROR_TEXT_LIMIT:
        return text[: _ERROR_TEXT_LIMIT - 1] + "…"
    return text


def parse_error_body(text: str, fallback: str) -> tuple[str, str | None]:
    """Polytomic's message (and key) from the documented body, the older
    `{"error": {"message"}}` body, or a non-JSON body; `fallback` (the reason phrase) when the
    body says nothing."""
    try:
        body: object = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        body = None
        short = error_text(text)
        if short:
            return short, None
    if isinstance(body, dict):
        key = _str(body.get("key"))
        message = _str(body.get("message"))
        error = body.get("error")
        if not message and isinstance(error, dict):
            message = _str(error.get("message"))
            key = key or _str(error.get("key"))
        elif not message and isinstance(error, str):
            message = _str(error)
        if message:
            return error_text(message) if len(message) > _ERROR_TEXT_LIMIT else message, key
        return fallback, key
    if isinstance(body, str) and body:
        return error_text(body), None
    return fallback, None
