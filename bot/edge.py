"""The HTTP edge of POST /slack/events: what a request goes through before Bolt sees it.

1. Its size. The server (bot/serving.py) has refused a body over the cap with 413 before reading
   it; a declared length over the cap is refused here too, before anything is read.
2. Its signature, checked by slack_sdk's `SignatureVerifier` (v0 HMAC of the raw body, 5-minute
   window) before anything parses or logs the body: a bad signature costs one HMAC and one short
   log line, whatever the body holds (401).
3. Its body, parsed once and strictly (400 otherwise): JSON when the Content-Type says so (the
   Events API, `url_verification`), else a form: a slash command's fields, or interactivity's
   `payload=<JSON>`. JSON must be an object, nested at most `MAX_JSON_DEPTH` deep.
4. Bolt gets that parsed body (`ParsedRequest`). Bolt's own `parse_body` decides "interactivity"
   by testing `"payload" in body` on the raw string, so a slash command whose channel, workspace,
   user name or text holds the word `payload` parsed to `{}` and got 404 "unhandled request".
   Bolt's routing, middleware and ack semantics are otherwise its own; Bolt's request
   verification is off (bot/app.py) because it is done here, once, and its log line of a bad
   signature held the whole body.

Only verified requests count for the responder's "answers wait for a lull" gate
(`while_handling`): unsigned junk must not delay anyone's answer. Refusals go to `on_refused`
(a bounded metric by status) and to one log line that never holds the body. Socket Mode does
not come through here: it has no signatures, and Bolt parses its envelopes itself.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.context import BoltContext
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger("bot.edge")

StartResponse = Callable[..., Any]

MAX_BODY_BYTES = 128 * 1024  # Slack's requests are a few kB; bot/serving.py refuses more first
MAX_JSON_DEPTH = 64  # Slack's deepest payloads (views, rich text) nest about ten levels
MAX_FORM_FIELDS = 64  # a slash command has about a dozen
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds; more digits cannot be within 5 minutes
MAX_SIGNATURE_CHARS = 128  # "v0=" and 64 hex digits
WINDOW_SECONDS = 300  # slack_sdk's window; used only to name the reason in the log line
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Refused(Exception):
    """The edge's answer to a request that goes no further: `status` and a short, fixed
    `reason` for the log (never anything taken from the request)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---- parsing (pure) ----------------------------------------------------------------------


def parse_body(text: str, content_type: str) -> dict[str, Any]:
    """The body of a verified request, as Bolt expects it; raises Refused(400) when it is not
    one Slack sends: JSON (by Content-Type) or a form, interactivity's as `payload=<JSON>`."""
    if not text:
        raise Refused(400, "empty body")
    if content_type == JSON:
        return _json_object(text)
    if content_type != FORM:
        raise Refused(400, "unsupported content type")
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except (ValueError, UnicodeDecodeError):  # too many fields, no `=`, bad %-escapes
        raise Refused(400, "malformed form") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise Refused(400, "repeated form field")
    if "payload" in fields:  # interactivity: the whole payload is this one field
        return _json_object(fields["payload"])
    return fields


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a number past int's digit limit, too deep
        raise Refused(400, "malformed JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "JSON is not an object")
    if _depth(value) > MAX_JSON_DEPTH:
        raise Refused(400, "JSON nested too deep")
    return value


def _depth(value: object) -> int:
    """How deeply containers nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class ParsedRequest(BoltRequest):
    """A BoltRequest for HTTP mode whose body was parsed at the edge instead of by Bolt's
    `parse_body` (see the module docstring). `raw_body` stays the verified raw text."""

    def __init__(
        self,
        *,
        raw_body: str,
        body: dict[str, Any],
        query: str | dict[str, Any],
        headers: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(body="", query=query, headers=headers, mode="http")  # parses nothing
        self.raw_body = raw_body
        self.body = body
        self.context = build_context(BoltContext(context or {}), body)

    def to_copyable(self) -> ParsedRequest:
        """What Bolt hands a lazy listener: the same parsed body (Bolt's would parse again)."""
        return ParsedRequest(
            raw_body=self.raw_body,
            body=self.body,
            query=dict(self.query),
            headers=dict(self.headers),
            context=self.context.to_copyable(),
        )


# ---- the edge ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: list[bytes]


def _render(response: BoltResponse) -> _Answer:
    wsgi = WsgiHttpResponse(status=response.status, headers=response.headers, body=response.body)
    return _Answer(wsgi.status, wsgi.get_headers(), list(wsgi.get_body()))


_REFUSALS = {
    400: BoltResponse(status=400, body={"error": "malformed request"}),
    401: BoltResponse(status=401, body={"error": "invalid request"}),  # what Bolt answers
    405: BoltResponse(status=405, body={"error": "method not allowed"}, headers={"allow": "POST"}),
    413: BoltResponse(status=413, body={"error": "request too large"}),
}


class SlackEdge:
    """The WSGI app for POST /slack/events in front of a Bolt `app` whose own request
    verification is off."""

    def __init__(
        self,
        app: App,
        signing_secret: str,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        on_refused: Callable[[int], None] | None = None,
        while_handling: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)  # raises on an empty secret
        self.max_body_bytes = max_body_bytes
        self.on_refused = on_refused
        self.while_handling = while_handling or nullcontext

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            request = self.admit(environ)
        except Refused as refusal:
            answer = _render(_REFUSALS[refusal.status])
            if refusal.status != 405:
                self._refused(refusal, environ)
        else:
            with self.while_handling():
                answer = _render(self.app.dispatch(request))
        start_response(answer.status, answer.headers)
        return answer.body

    def admit(self, environ: dict[str, Any]) -> ParsedRequest:
        """The request Bolt gets, once it is within the cap, signed and well formed; raises
        Refused otherwise. Nothing of the body is read before its length is known to fit, and
        nothing parses it before its signature has been checked."""
        if environ.get("REQUEST_METHOD") != "POST":
            raise Refused(405, "method not allowed")
        length = self._length(environ)
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
        if not timestamp or not signature:
            raise Refused(401, "unsigned")
        if not TIMESTAMP.fullmatch(timestamp):
            raise Refused(400, "malformed timestamp")
        if not signature.isascii() or len(signature) > MAX_SIGNATURE_CHARS:
            raise Refused(401, "bad signature")  # compare_digest refuses non-ASCII text
        raw = self._read(environ, length)
        try:
            text = raw.decode("utf-8")  # the verifier decodes it too, and would raise here
        except UnicodeDecodeError:
            raise Refused(400, "body is not UTF-8") from None
        if not self.verifier.is_valid(text, timestamp, signature):
            if abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
                raise Refused(401, "timestamp outside the 5-minute window")
            raise Refused(401, "bad signature")
        content_type = str(environ.get("CONTENT_TYPE") or "")
        body = parse_body(text, media_type(content_type))
        return ParsedRequest(
            raw_body=text,
            body=body,
            query=str(environ.get("QUERY_STRING") or ""),
            headers=dict(_headers(environ)),
        )

    def _length(self, environ: dict[str, Any]) -> int:
        declared = str(environ.get("CONTENT_LENGTH") or "0")
        if not declared.isascii() or not declared.isdigit() or len(declared) > 12:
            raise Refused(400, "malformed Content-Length")
        length = int(declared)
        if length > self.max_body_bytes:
            raise Refused(413, "body too large")
        return length

    @staticmethod
    def _read(environ: dict[str, Any], length: int) -> bytes:
        stream = environ.get("wsgi.input")
        raw = stream.read(length) if stream is not None and length else b""
        if len(raw) != length:
            raise Refused(400, "body shorter than its Content-Length")
        return bytes(raw)

    def _refused(self, refusal: Refused, environ: dict[str, Any]) -> None:
        log.info(
            "refused request",
            extra={"status": refusal.status, "reason": refusal.reason, "client": environ.get("REMOTE_ADDR")},
        )
        if self.on_refused is not None:
            self.on_refused(refusal.status)


def _headers(environ: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The request's headers as Bolt names them, less Bolt's own `x-slack-bolt-*`, which tell
    it to run lazy listeners only: no client may set those (they are not signed)."""
    for key, value in environ.items():
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            yield key.lower().replace("_", "-"), str(value)
        elif key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            if not name.startswith("x-slack-bolt-"):
                yield name, str(value)
