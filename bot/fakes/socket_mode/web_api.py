"""The Web API in front of the fake Socket Mode: `apps.connections.open` answered here, every
other request forwarded byte for byte to the FakeSlack (so its records, faults and state all
still apply).

apps.connections.open takes only the app-level token (`xapp-…`), as Slack does: `not_authed`
without a token, `not_allowed_token_type` for a bot token, `invalid_auth` for another
`xapp-`; it answers a one-use `ws://…/link/?ticket=…&app_id=…` URL, or an injected error.
"""

from __future__ import annotations

import json
import secrets
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from bot.fakes.socket_mode.records import OpenCall, OpenFault
from bot.fakes.socket_mode.state import SocketModeState

if TYPE_CHECKING:
    from bot.fakes.socket_mode.server import FakeSocketMode

# Headers not to pass through the Web API proxy (hop-by-hop, or recomputed).
_SKIP_REQUEST_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
_SKIP_RESPONSE_HEADERS = {"content-length", "connection", "transfer-encoding", "server", "date"}


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeSocketMode) -> None:
        self.fake = fake
        super().__init__(address, ApiHandler)


class ApiHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.0"
    timeout = 30
    server_version = "FakeSlackSocketMode/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.server.fake._serve_api(self, "POST")

    def do_GET(self) -> None:
        self.server.fake._serve_api(self, "GET")


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    try:
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


class WebApiFront(SocketModeState):
    """apps.connections.open, its faults and its records; everything else to the FakeSlack."""

    @property
    def open_calls(self) -> list[OpenCall]:
        with self._lock:
            return list(self._open_calls)

    def inject_open_error(
        self,
        error: str = "ratelimited",
        *,
        count: int = 1,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next `count` apps.connections.open calls fail (429 for ratelimited)."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        with self._lock:
            self._open_faults.append(OpenFault(error, count, status, retry_after))

    def _serve_api(self, handler: ApiHandler, verb: str) -> None:
        split = urlsplit(handler.path)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = handler.rfile.read(length) if length > 0 else b""
        if split.path.rstrip("/") == "/api/apps.connections.open":
            status, body, headers = self._connections_open(handler, split.query, raw)
            payload = json.dumps(body).encode("utf-8")
            _reply(handler, status, payload, [("Content-Type", "application/json; charset=utf-8"), *headers])
            return
        # Everything else: to the FakeSlack, unchanged.
        assert self._http is not None
        forward_headers = [
            (k, v) for k, v in handler.headers.items() if k.lower() not in _SKIP_REQUEST_HEADERS
        ]
        try:
            upstream = self._http.request(
                verb, self.slack.base_url + handler.path, content=raw, headers=forward_headers
            )
        except httpx.HTTPError as exc:
            self._problem(f"forwarding {verb} {handler.path} failed: {exc!r}")
            _reply(handler, 502, b"bad gateway", [("Content-Type", "text/plain")])
            return
        back = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in upstream.headers.raw
            if k.decode("latin-1").lower() not in _SKIP_RESPONSE_HEADERS
        ]
        _reply(handler, upstream.status_code, upstream.content, back)

    def _connections_open(
        self, handler: ApiHandler, query: str, raw: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: str | None = None
        auth = handler.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        if token is None:
            params = dict(parse_qsl(query)) | dict(parse_qsl(raw.decode("utf-8", "replace")))
            token = params.get("token") or None
        status, headers = 200, []
        url: str | None = None
        with self._changed:
            fault = next((f for f in self._open_faults if f.remaining > 0), None)
            if token is None:
                body: dict[str, Any] = {"ok": False, "error": "not_authed"}
            elif not token.startswith("xapp-"):
                body = {"ok": False, "error": "not_allowed_token_type"}
            elif token != self.app_token:
                body = {"ok": False, "error": "invalid_auth"}
            elif fault is not None:
                fault.remaining -= 1
                status, body = fault.status, {"ok": False, "error": fault.error}
                if fault.retry_after is not None or status == 429:
                    headers.append(("Retry-After", str(fault.retry_after or 1)))
            else:
                ticket = secrets.token_hex(16)
                self._tickets[ticket] = False
                url = f"{self.ws_url}?ticket={ticket}&app_id={self.app_id}"
                body = {"ok": True, "url": url}
            self._open_calls.append(OpenCall(time.time(), token, body["ok"], body.get("error"), url, status))
            self._changed.notify_all()
        return status, body, headers
