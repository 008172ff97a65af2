"""The fake Slack's HTTP plumbing: the threaded server, the request handler that hands every
request to `FakeSlack._serve`, reading Web API parameters the way Slack accepts them (query
string plus a form or JSON body, JSON-string `blocks`...), and writing an answer.

Nothing here knows a Slack method; routing and answers are FakeSlack's (server.py).
"""

from __future__ import annotations

import contextlib
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from bot.fakes.slack.server import FakeSlack

# Params that slack_sdk (or a hand-written client) may send as JSON strings in form bodies.
_JSON_PARAMS = ("blocks", "attachments", "metadata", "user_auth_blocks")


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _flatten_qs(parsed: dict[str, list[str]]) -> dict[str, Any]:
    return {k: (v[0] if len(v) == 1 else v) for k, v in parsed.items()}


def parse_params(query: str, raw: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body (form or JSON). Returns (params, error)."""
    params: dict[str, Any] = _flatten_qs(parse_qs(query, keep_blank_values=True))
    error: str | None = None
    ctype = content_type.split(";", 1)[0].strip().lower()
    if raw:
        if ctype == "application/json":
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                error = "invalid_json"
            else:
                if isinstance(body, dict):
                    params.update(body)
                else:
                    error = "invalid_json"
        elif ctype.startswith("multipart/"):
            pass  # file uploads are not modelled; the raw body is still recorded
        else:
            try:
                params.update(_flatten_qs(parse_qs(raw.decode("utf-8"), keep_blank_values=True)))
            except UnicodeDecodeError:
                error = "invalid_form_data"
    for key in _JSON_PARAMS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # left as a string when malformed: the method answers invalid_blocks_format
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params, error


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's own servers
    # An answer's headers and body go out in two writes: without this, on a kept connection the
    # second waits for the client's delayed ACK (40 ms on Linux) under Nagle's algorithm.
    disable_nagle_algorithm = True
    timeout = 30
    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; everything is in FakeSlack.requests

    def do_POST(self) -> None:
        self.server.fake._serve(self, "POST")

    def do_GET(self) -> None:
        self.server.fake._serve(self, "GET")

    def do_PUT(self) -> None:
        self.server.fake._serve(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._serve(self, "DELETE")


def answer(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any] | str,
    headers: dict[str, str],
    *,
    drip: float = 0.0,
) -> None:
    """A JSON answer for a dict, text for a string; a client that hung up is not an error.
    `drip` > 0: the whole answer goes out one byte every `drip` seconds."""
    if isinstance(body, dict):
        payload = json.dumps(body).encode("utf-8")
        ctype = "application/json; charset=utf-8"
    else:
        payload = str(body).encode("utf-8")
        ctype = "text/plain; charset=utf-8"
    if drip > 0:
        _drip(handler, status, ctype, payload, headers, drip)
        return
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (timeout); the request is recorded anyway


def _drip(
    handler: BaseHTTPRequestHandler,
    status: int,
    ctype: str,
    payload: bytes,
    headers: dict[str, str],
    every: float,
) -> None:
    head = f"HTTP/1.1 {status} Dripping\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
    head += "".join(f"{key}: {value}\r\n" for key, value in headers.items())
    raw = (head + "Connection: close\r\n\r\n").encode() + payload
    handler.close_connection = True
    try:
        for i in range(len(raw)):
            handler.wfile.write(raw[i : i + 1])
            handler.wfile.flush()
            time.sleep(every)
    except OSError:
        pass  # the client gave up: that is the point
