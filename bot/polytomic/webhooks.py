"""Polytomic's webhook deliveries, checked and read without a server: the signature, the body,
and the key that deduplicates a delivery.

Each delivery is a POST whose body is one event (events.py) and whose `Polytomic-Signature`
header is an HMAC of the raw body keyed with the webhook's secret. Polytomic does not document
the hash or the encoding (the guide's Go example is not in any copy we have), so
`verify_signature` accepts HMAC-SHA256 in the three forms a Go service would plausibly send:
lowercase hex, the same with a `sha256=` prefix (GitHub's form), and standard base64 with or
without its padding. Anything else is refused: uppercase hex, URL-safe base64, a non-canonical
base64 spelling, several signatures, whitespace inside. The form is decided by the header's
shape alone and the digest compared in constant time, so timing tells nothing about the
secret; the result names the form that matched, for a log line. Nothing here ever puts the
secret, the expected digest or the received header into an exception text.

`parse_delivery` turns a body into an Event or raises MalformedDelivery (BodyTooLarge past
MAX_BODY_BYTES). A delivery without an `id` is accepted, since the docs' own examples have
none: `dedupe_key` then falls back to a digest of the body. No timestamp is signed, so there
is no replay window: deduplicate by that key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Final, Literal

from bot.polytomic.events import Event, parse_event

__all__ = [
    "MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "BodyTooLarge",
    "InvalidSignature",
    "MalformedDelivery",
    "SignatureForm",
    "WebhookError",
    "dedupe_key",
    "parse_delivery",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "Polytomic-Signature"
MAX_BODY_BYTES: Final = 1_000_000  # a delivery is one small event; anything bigger is not one

SignatureForm = Literal["hex", "sha256=hex", "base64"]

_HEX: Final = re.compile(r"[0-9a-f]{64}")
_PREFIXED_HEX: Final = re.compile(r"sha256=([0-9a-f]{64})")
# 32 bytes are 43 base64 characters and one '=' of padding; the last character carries 4 bits
# of the digest and 2 zero bits, so only A, E, I, ... 8 can end a canonical encoding.
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048](=?)")
_MAX_HEADER: Final = 200
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_MAX_TYPE: Final = 200


class WebhookError(Exception):
    """A delivery the receiver must refuse. The text is safe to log and to answer with."""


class InvalidSignature(WebhookError):
    """The signature is missing, not in a form we accept, or does not match (answer 401).
    `reason` is one of "missing", "malformed", "mismatch", for a metric label."""

    def __init__(self, message: str, reason: Literal["missing", "malformed", "mismatch"]) -> None:
        super().__init__(message)
        self.reason = reason


class MalformedDelivery(WebhookError):
    """The body is not one event (answer 400)."""


class BodyTooLarge(MalformedDelivery):
    """The body is over MAX_BODY_BYTES (answer 413)."""


def _digest(body: bytes, secret: str) -> bytes:
    if not secret:
        raise ValueError("the webhook secret is empty")
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def sign(body: bytes, secret: str, form: SignatureForm = "hex") -> str:
    """The header value Polytomic would send in `form` (for tests and for checking a setup)."""
    digest = _digest(body, secret)
    if form == "hex":
        return digest.hex()
    if form == "sha256=hex":
        return "sha256=" + digest.hex()
    if form == "base64":
        return base64.b64encode(digest).decode()
    raise ValueError(f"unknown signature form {form!r}")


def _shape(header: str) -> tuple[SignatureForm, str]:
    """Which form the header is in, and its canonical text; InvalidSignature otherwise."""
    if _HEX.fullmatch(header):
        return "hex", header
    prefixed = _PREFIXED_HEX.fullmatch(header)
    if prefixed:
        return "sha256=hex", prefixed.group(1)
    encoded = _BASE64.fullmatch(header)
    if encoded:
        return "base64", header if encoded.group(1) else header + "="
    raise InvalidSignature("the signature is not hex, sha256=hex or base64 of an HMAC-SHA256", "malformed")


def verify_signature(body: bytes, header: str | None, secret: str) -> SignatureForm:
    """Check `header` (the Polytomic-Signature value) against the HMAC-SHA256 of the raw
    `body` keyed with `secret`; return the form that matched, or raise InvalidSignature."""
    if header is None or not header.strip():
        raise InvalidSignature("the delivery is not signed", "missing")
    header = header.strip()  # optional whitespace around a header value is not part of it
    if len(header) > _MAX_HEADER or not header.isascii() or not header.isprintable():
        raise InvalidSignature(
            "the signature is not hex, sha256=hex or base64 of an HMAC-SHA256", "malformed"
        )
    form, text = _shape(header)
    digest = _digest(body, secret)
    expected = digest.hex() if form != "base64" else base64.b64encode(digest).decode()
    if not hmac.compare_digest(text.encode(), expected.encode()):
        raise InvalidSignature("the signature does not match", "mismatch")
    return form


def parse_delivery(body: bytes) -> Event:
    """The event a delivery carries. MalformedDelivery unless the body is a UTF-8 JSON object
    with a non-empty string `type`, an `id` that is absent or a plain identifier, and an
    `event` that is absent, null or an object; BodyTooLarge past MAX_BODY_BYTES. Every other
    field is read tolerantly (events.parse_event)."""
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body is over {MAX_BODY_BYTES:,} bytes")
    try:
        decoded: object = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedDelivery("the body is not UTF-8") from None
    except ValueError:
        raise MalformedDelivery("the body is not JSON") from None
    except RecursionError:
        raise MalformedDelivery("the body is nested too deeply") from None
    if not isinstance(decoded, dict):
        raise MalformedDelivery("the body is not a JSON object")
    type_ = decoded.get("type")
    if not isinstance(type_, str) or not type_.strip():
        raise MalformedDelivery("the event has no type")
    if len(type_) > _MAX_TYPE or not type_.isprintable():
        raise MalformedDelivery("the event type is not a plain identifier")
    event_id = decoded.get("id")
    if event_id is not None and not (isinstance(event_id, str) and _ID.fullmatch(event_id)):
        raise MalformedDelivery("the event id is not a plain identifier")
    if decoded.get("event") is not None and not isinstance(decoded.get("event"), dict):
        raise MalformedDelivery("the event payload is not an object")
    return parse_event(decoded)


def dedupe_key(body: bytes, event: Event | None = None) -> str:
    """What a stored delivery is unique by: the event's id (the same id the events API
    gives, so a polled copy of it deduplicates too), else `sha256:` and the hex digest of the
    raw body. `event` is the parsed body when the caller has it (saves parsing twice)."""
    if event is None:
        try:
            event = parse_delivery(body)
        except MalformedDelivery:
            event = None
    if event is not None and event.id and _ID.fullmatch(event.id):
        return event.id
    return "sha256:" + hashlib.sha256(body).hexdigest()
