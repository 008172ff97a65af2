"""POST /polytomic/webhook: Polytomic's webhook deliveries, checked, stored once, answered at once.

The same edge discipline as POST /slack/events (bot/edge.py), in the same order:

1. Its size: a declared length over the cap is refused with 413 before anything is read (the
   server, bot/serving.py, refuses bodies over its own cap first, also with 413).
2. Its signature: `Polytomic-Signature`, an HMAC-SHA256 of the raw body with
   POLYTOMIC_WEBHOOK_SECRET, as lowercase hex, `sha256=`hex or base64, compared in constant time
   (bot/polytomic/webhooks.py). Missing or wrong: 401, before the body is parsed. The log line
   names the form that matched, never the secret or the header.
3. Its body: one event (400 otherwise).
4. Stored once (bot/feed/ingest.py), keyed by the event's id or a digest of the body, and only
   then answered 200: a redelivery of an event stored already is answered 200 too, and changes
   nothing. A database that cannot take it gets 503, so Polytomic retries. Nothing remote happens
   before the answer; the stored event nudges this process's tracker.

Without POLYTOMIC_WEBHOOK_SECRET the route is not served at all (404, bot/web.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.db.events import Incoming
from bot.edge import Refused
from bot.feed.ingest import Feed
from bot.metrics import Metrics
from bot.polytomic.webhooks import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    InvalidSignature,
    MalformedDelivery,
    dedupe_key,
    parse_delivery,
    verify_signature,
)

log = logging.getLogger("bot.feed")

StartResponse = Callable[..., Any]
PATH = "/polytomic/webhook"
_STATUS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    503: "503 Service Unavailable",
}


class WebhookReceiver:
    """The WSGI app for POST /polytomic/webhook."""

    def __init__(
        self,
        feed: Feed,
        secret: str,
        metrics: Metrics,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        on_refused: Callable[[int], None] | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the webhook receiver needs POLYTOMIC_WEBHOOK_SECRET")
        self.feed = feed
        self._secret = secret
        self.metrics = metrics
        self.max_body_bytes = min(max_body_bytes, MAX_BODY_BYTES)
        self.on_refused = on_refused

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, answer = self.receive(environ)
        except Refused as refusal:
            status, answer = refusal.status, {"error": refusal.reason}
            log.info(
                "refused webhook delivery",
                extra={
                    "status": refusal.status,
                    "reason": refusal.reason,
                    "client": environ.get("REMOTE_ADDR"),
                },
            )
            if self.on_refused is not None and status != 405:
                self.on_refused(status)
        body = json.dumps(answer).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(_STATUS[status], headers)
        return [body]

    def receive(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, answer) for a delivery; raises Refused for one that changes nothing."""
        if environ.get("REQUEST_METHOD") != "POST":
            raise Refused(405, "method not allowed")
        length = self._length(environ)
        signature = environ.get("HTTP_POLYTOMIC_SIGNATURE")
        if not signature or not str(signature).strip():
            self.metrics.signature_failures.labels(reason="missing").inc()
            raise Refused(401, "unsigned")
        raw = self._read(environ, length)
        try:
            form = verify_signature(raw, str(signature), self._secret)
        except InvalidSignature as error:
            self.metrics.signature_failures.labels(reason=error.reason).inc()
            raise Refused(401, f"bad signature ({error.reason})") from None
        try:
            event = parse_delivery(raw)
        except BodyTooLarge:
            raise Refused(413, "body too large") from None
        except MalformedDelivery as error:
            raise Refused(400, str(error)) from None
        key = dedupe_key(raw, event)
        try:
            # Stored as delivered: the body is checked UTF-8 JSON, so it needs no re-encoding.
            taken = self.feed.take([Incoming(key, event, raw.decode("utf-8"))], "webhook")
        except SQLAlchemyError as error:
            log.warning("could not store a webhook event: %s", type(error).__name__)
            return 503, {"error": "cannot store the event now"}
        duplicate = not taken.new
        log.debug(  # one a delivery: at debug, the metrics count them (bot/feed/ingest.py)
            "webhook event",
            extra={
                "signature_form": form,
                "event_type": event.type[:64],
                "event_id": key[:80],
                "duplicate": duplicate,
                "operations": taken.hinted,
            },
        )
        return 200, {"ok": True, "duplicate": duplicate}

    def _length(self, environ: dict[str, Any]) -> int:
        declared = str(environ.get("CONTENT_LENGTH") or "0")
        if not declared.isascii() or not declared.isdigit() or len(declared) > 12:
            raise Refused(400, "malformed Content-Length")
        length = int(declared)
        if length > self.max_body_bytes:
            raise Refused(413, "body too large")
        if length == 0:
            raise Refused(400, "empty body")
        return length

    @staticmethod
    def _read(environ: dict[str, Any], length: int) -> bytes:
        stream = environ.get("wsgi.input")
        raw = stream.read(length) if stream is not None else b""
        if len(raw) != length:
            raise Refused(400, "body shorter than its Content-Length")
        return bytes(raw)
