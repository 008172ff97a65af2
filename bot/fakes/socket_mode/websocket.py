"""A fake Slack Socket Mode endpoint: a real WebSocket server plus the Web API in front of it.

The bot connects the way it connects to Slack, with slack_sdk's built-in SocketModeClient::

    with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        env["SLACK_API_URL"] = sm.api_url          # apps.connections.open + every other method
        env["SLACK_APP_TOKEN"] = sm.app_token
        ...start `polytomic-bot socket`...
        sm.wait_connections(1)
        envelope = sm.send_slash_command("help", user_id="U1", channel_id="C1",
                                         response_url=slack.response_url())
        ack = sm.wait_ack(envelope, timeout=3)     # {"envelope_id": ..., "payload": {...}}
        ack.elapsed                                # seconds from the envelope to its ack

Two servers on 127.0.0.1, ephemeral ports:

* ``api_url`` (``http://127.0.0.1:P/api/``): answers ``apps.connections.open`` itself (only
  for the app-level token, ``xapp-…``, as Slack does: ``not_authed`` without a token,
  ``not_allowed_token_type`` for a bot token, ``invalid_auth`` for another ``xapp-``) with a
  one-use ``ws://127.0.0.1:W/link/?ticket=…&app_id=…`` URL, and forwards every other request
  byte for byte to the FakeSlack instance (so its records, faults and state all still apply).
* ``ws_url``: the WebSocket server (the ``websockets`` package, sync API, one thread per
  connection). A connection needs a ticket issued by ``apps.connections.open`` that was not
  used yet (HTTP 401 otherwise). On connect it sends ``hello`` like Slack; ping/pong is the
  WebSocket protocol's (the built-in client pings every ``ping_interval`` and answers pings).

Envelopes go to the newest open connection unless a connection id is given. Everything is
recorded: ``connections``, ``frames`` (both directions, parsed JSON), ``open_calls``, ``acks``;
anything the client sends that is not a well-formed ack of a known envelope lands in
``problems`` (a test fixture should assert it stays empty).

This module must not import bot modules outside ``bot.fakes``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.fakes.signing import block_actions_payload, slash_command_body
from bot.fakes.slack import FakeSlack

__all__ = ["Ack", "FakeSocketMode", "Frame", "OpenCall", "SocketConnection"]

DEFAULT_APP_TOKEN = "xapp-1-test"

# Headers not to pass through the Web API proxy (hop-by-hop, or recomputed).
_SKIP_REQUEST_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
_SKIP_RESPONSE_HEADERS = {"content-length", "connection", "transfer-encoding", "server", "date"}


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


@dataclass
class SocketConnection:
    """One WebSocket connection from the bot."""

    id: int
    ticket: str
    path: str
    opened_at: float  # time.time()
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: str | None = None  # "server" when the fake closed it, else "client"
    ws: ServerConnection | None = field(default=None, repr=False, compare=False)

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass
class Frame:
    """One text message on a connection. direction: "sent" (fake -> bot) or "received"."""

    connection_id: int
    direction: str
    time: float
    text: str
    data: Any = None  # parsed JSON, or None when the text is not JSON


@dataclass
class OpenCall:
    """One apps.connections.open request."""

    time: float
    token: str | None
    ok: bool
    error: str | None
    url: str | None
    status: int = 200


class Ack(dict[str, Any]):
    """The ack exactly as the client sent it (``{"envelope_id", "payload"?}``), plus timing."""

    def __init__(
        self, data: dict[str, Any], *, elapsed: float, connection_id: int, received_at: float
    ) -> None:
        super().__init__(data)
        self.elapsed = elapsed  # seconds between sending the envelope and receiving this ack
        self.connection_id = connection_id
        self.received_at = received_at

    @property
    def payload(self) -> dict[str, Any] | None:
        value = self.get("payload")
        return value if isinstance(value, dict) else None


@dataclass
class _Envelope:
    envelope_id: str
    type: str
    message: dict[str, Any]
    connection_id: int
    sent_at: float  # time.monotonic()
    acks: list[Ack] = field(default_factory=list)


@dataclass
class _OpenFault:
    error: str
    remaining: int
    status: int
    retry_after: int | None


# --------------------------------------------------------------------------------------
# The Web API in front: apps.connections.open here, everything else to FakeSlack
# --------------------------------------------------------------------------------------


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeSocketMode) -> None:
        self.fake = fake
        super().__init__(address, _ApiHandler)


class _ApiHandler(BaseHTTPRequestHandler):
    server: _ApiServer
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


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


class FakeSocketMode:
    """Fake Socket Mode (WebSocket) + apps.connections.open, in front of a FakeSlack."""

    def __init__(
        self,
        slack: FakeSlack,
        app_token: str = DEFAULT_APP_TOKEN,
        *,
        app_id: str | None = None,
        host: str = "127.0.0.1",
        send_hello: bool = True,
        ws_ping_interval: float | None = 20,
    ) -> None:
        self.slack = slack
        self.app_token = app_token
        self.app_id = app_id or slack.app_id
        self.send_hello = send_hello
        self._host = host
        self._ws_ping_interval = ws_ping_interval

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._connections: list[SocketConnection] = []
        self._frames: list[Frame] = []
        self._open_calls: list[OpenCall] = []
        self._envelopes: dict[str, _Envelope] = {}
        self._problems: list[str] = []
        self._open_faults: list[_OpenFault] = []
        self._ids = itertools.count(1)
        self._timers: list[threading.Timer] = []

        self._ws_server: Server | None = None
        self._ws_thread: threading.Thread | None = None
        self._api_server: _ApiServer | None = None
        self._api_thread: threading.Thread | None = None
        self._http: httpx.Client | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSocketMode:
        if self._ws_server is not None:
            raise RuntimeError("FakeSocketMode already started")
        if not self.slack.running:
            raise RuntimeError("start the FakeSlack first")
        self._ws_server = serve(
            self._handle_connection,
            self._host,
            0,
            process_request=self._check_ticket,
            compression=None,
            ping_interval=self._ws_ping_interval,
            ping_timeout=20,
            close_timeout=1,
            max_size=2**22,
        )
        self._ws_thread = threading.Thread(
            target=self._ws_server.serve_forever, name="FakeSocketMode:ws", daemon=True
        )
        self._ws_thread.start()
        self._http = httpx.Client(timeout=60)
        self._api_server = _ApiServer((self._host, 0), self)
        self._api_thread = threading.Thread(
            target=self._api_server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeSocketMode:api",
            daemon=True,
        )
        self._api_thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        if self._api_server is not None:
            self._api_server.shutdown()
            self._api_server.server_close()
            if self._api_thread is not None:
                self._api_thread.join(timeout=5)
            self._api_server = None
        if self._ws_server is not None:
            # Closes open connections (1001) and waits for their handlers.
            self._ws_server.shutdown()
            if self._ws_thread is not None:
                self._ws_thread.join(timeout=5)
            self._ws_server = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> FakeSocketMode:
        if self._ws_server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ws_port(self) -> int:
        if self._ws_server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._ws_server.socket.getsockname()[1])

    @property
    def api_port(self) -> int:
        if self._api_server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._api_server.server_address[1])

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.ws_port}/link/"

    @property
    def api_url(self) -> str:
        """SLACK_API_URL for the bot: apps.connections.open here, the rest to FakeSlack."""
        return f"http://{self._host}:{self.api_port}/api/"

    # ----------------------------------------------------------------- records

    @property
    def connections(self) -> list[SocketConnection]:
        with self._lock:
            return [_copy_connection(c) for c in self._connections]

    @property
    def open_connections(self) -> list[SocketConnection]:
        return [c for c in self.connections if c.open]

    @property
    def frames(self) -> list[Frame]:
        with self._lock:
            return list(self._frames)

    def received(self, connection_id: int | None = None) -> list[Frame]:
        """What the bot sent us (acks...), optionally on one connection."""
        return [
            f
            for f in self.frames
            if f.direction == "received" and (connection_id is None or f.connection_id == connection_id)
        ]

    def sent(self, connection_id: int | None = None) -> list[Frame]:
        """What we sent the bot (hello, envelopes, disconnect...)."""
        return [
            f
            for f in self.frames
            if f.direction == "sent" and (connection_id is None or f.connection_id == connection_id)
        ]

    @property
    def open_calls(self) -> list[OpenCall]:
        with self._lock:
            return list(self._open_calls)

    @property
    def problems(self) -> list[str]:
        """Protocol violations by the client (bad JSON, unknown or duplicate acks...)."""
        with self._lock:
            return list(self._problems)

    def acks(self, envelope_id: str) -> list[Ack]:
        with self._lock:
            envelope = self._envelopes.get(envelope_id)
            if envelope is None:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
            return list(envelope.acks)

    def wait_connections(self, count: int = 1, timeout: float = 10.0) -> list[SocketConnection]:
        """Wait until `count` connections were opened in total (open or not); returns them all."""
        self._wait(lambda: len(self._connections) >= count, timeout, f"{count} Socket Mode connection(s)")
        return self.connections

    def wait_closed(self, connection_id: int, timeout: float = 10.0) -> SocketConnection:
        self._wait(
            lambda: self._connection(connection_id).closed_at is not None,
            timeout,
            f"connection {connection_id} to close",
        )
        return _copy_connection(self._connection(connection_id))

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> Ack:
        """Wait for the client's ack of an envelope; ``Ack.elapsed`` is how long it took."""
        with self._lock:
            if envelope_id not in self._envelopes:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
        self._wait(lambda: self._envelopes[envelope_id].acks, timeout, f"the ack of {envelope_id}")
        with self._lock:
            return self._envelopes[envelope_id].acks[0]

    # ----------------------------------------------------------------- faults

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
            self._open_faults.append(_OpenFault(error, count, status, retry_after))

    # ----------------------------------------------------------------- driving the client

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = True,
        connection_id: int | None = None,
        envelope_id: str | None = None,
        **extra: Any,
    ) -> str:
        """Send one envelope; returns its envelope_id. Goes to the newest open connection."""
        envelope_id = envelope_id or str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
            **extra,
        }
        with self._lock:
            conn = self._target(connection_id)
            self._envelopes[envelope_id] = _Envelope(envelope_id, type, message, conn.id, time.monotonic())
        self._send(conn, message)
        return envelope_id

    def send_slash_command(
        self,
        text: str,
        user_id: str = "U123",
        channel_id: str = "C123",
        response_url: str | None = None,
        *,
        connection_id: int | None = None,
        **fields: Any,
    ) -> str:
        """A slash command as Slack sends it over Socket Mode: the HTTP form fields as a dict."""
        if response_url is None:
            response_url = self.slack.response_url(f"{user_id}:{text[:20]}")
        body = slash_command_body(
            text=text, user_id=user_id, channel_id=channel_id, response_url=response_url, **fields
        )
        payload = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return self.send_envelope(
            "slash_commands", payload, accepts_response_payload=True, connection_id=connection_id
        )

    def send_block_actions(
        self,
        user_id: str,
        action_id: str,
        value: str,
        channel_id: str,
        response_url: str,
        *,
        connection_id: int | None = None,
        accepts_response_payload: bool = False,
        **fields: Any,
    ) -> str:
        """A button click (``interactive`` envelope; Slack sets accepts_response_payload false)."""
        payload = block_actions_payload(
            user_id=user_id,
            action_id=action_id,
            value=value,
            channel_id=channel_id,
            response_url=response_url,
            **fields,
        )
        return self.send_envelope(
            "interactive",
            payload,
            accepts_response_payload=accepts_response_payload,
            connection_id=connection_id,
        )

    def request_refresh(
        self,
        reason: str = "refresh_requested",
        *,
        connection_id: int | None = None,
        close_after: float | None = None,
    ) -> int:
        """Send ``{"type": "disconnect", "reason": …}``; Slack closes the old socket a few
        seconds later, which ``close_after`` does (if the client has not already)."""
        with self._lock:
            conn = self._target(connection_id)
        self._send(
            conn,
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink-1"}},
        )
        if close_after is not None:
            timer = threading.Timer(close_after, self.close_connection, args=(conn.id,))
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()
        return conn.id

    def close_connection(self, connection_id: int, code: int = 1001, reason: str = "") -> None:
        """Close a connection from the server side (a WebSocket close frame)."""
        with self._lock:
            conn = self._connection(connection_id)
            ws = conn.ws
            if conn.closed_at is None:
                conn.closed_by = "server"
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close(code, reason)

    # ----------------------------------------------------------------- internals

    def _wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what}; "
                        f"connections={[(c.id, c.open) for c in self._connections]} "
                        f"problems={self._problems}"
                    )
                self._changed.wait(min(remaining, 0.05))

    def _connection(self, connection_id: int) -> SocketConnection:
        for conn in self._connections:
            if conn.id == connection_id:
                return conn
        raise KeyError(f"no connection {connection_id}")

    def _target(self, connection_id: int | None) -> SocketConnection:
        if connection_id is not None:
            conn = self._connection(connection_id)
            if not conn.open:
                raise RuntimeError(f"connection {connection_id} is closed")
            return conn
        live = [c for c in self._connections if c.open]
        if not live:
            raise RuntimeError("no open Socket Mode connection")
        return live[-1]

    def _send(self, conn: SocketConnection, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        assert conn.ws is not None
        with self._changed:
            self._frames.append(Frame(conn.id, "sent", time.time(), text, message))
            self._changed.notify_all()
        conn.ws.send(text)

    def _problem(self, text: str) -> None:
        with self._changed:
            self._problems.append(text)
            self._changed.notify_all()

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            if ticket not in self._tickets:
                self._problems.append(f"connection with an unknown ticket: {request.path}")
                return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")
            if self._tickets[ticket]:
                self._problems.append(f"connection reusing a ticket: {request.path}")
                return connection.respond(HTTPStatus.UNAUTHORIZED, "ticket already used\n")
            self._tickets[ticket] = True
        return None

    def _handle_connection(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query) if ws.request else {}
        with self._changed:
            conn = SocketConnection(
                id=next(self._ids),
                ticket=(query.get("ticket") or [""])[0],
                path=ws.request.path if ws.request else "",
                opened_at=time.time(),
                ws=ws,
            )
            self._connections.append(conn)
            self._changed.notify_all()
        try:
            if self.send_hello:
                with self._lock:
                    count = sum(1 for c in self._connections if c.open)
                self._send(
                    conn,
                    {
                        "type": "hello",
                        "num_connections": count,
                        "debug_info": {
                            "host": "fake-applink-1",
                            "build_number": 1,
                            "approximate_connection_time": 18060,
                        },
                        "connection_info": {"app_id": self.app_id},
                    },
                )
            for raw in ws:
                self._on_message(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                conn.closed_at = time.time()
                if conn.closed_by is None:
                    conn.closed_by = "client"
                conn.close_code, conn.close_reason = ws.close_code, ws.close_reason
                self._changed.notify_all()

    def _on_message(self, conn: SocketConnection, raw: str | bytes) -> None:
        now = time.time()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        with self._changed:
            self._frames.append(Frame(conn.id, "received", now, text, data))
            if isinstance(raw, bytes):
                self._problems.append(f"binary frame on connection {conn.id}: {raw[:200]!r}")
            if not isinstance(data, dict) or not isinstance(data.get("envelope_id"), str):
                self._problems.append(f"not an ack on connection {conn.id}: {text[:200]}")
            else:
                envelope = self._envelopes.get(data["envelope_id"])
                if envelope is None:
                    self._problems.append(f"ack of an unknown envelope: {text[:200]}")
                else:
                    if envelope.acks:
                        self._problems.append(f"second ack of {envelope.envelope_id}: {text[:200]}")
                    unexpected = set(data) - {"envelope_id", "payload"}
                    if unexpected:
                        self._problems.append(f"unexpected ack fields {sorted(unexpected)}: {text[:200]}")
                    envelope.acks.append(
                        Ack(
                            data,
                            elapsed=time.monotonic() - envelope.sent_at,
                            connection_id=conn.id,
                            received_at=now,
                        )
                    )
            self._changed.notify_all()

    # ----------------------------------------------------------------- Web API

    def _serve_api(self, handler: _ApiHandler, verb: str) -> None:
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
        self, handler: _ApiHandler, query: str, raw: bytes
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

    def __repr__(self) -> str:
        where = self.ws_url if self._ws_server is not None else "not started"
        return f"<FakeSocketMode {where} connections={len(self._connections)} frames={len(self._frames)}>"


def _copy_connection(conn: SocketConnection) -> SocketConnection:
    return SocketConnection(
        id=conn.id,
        ticket=conn.ticket,
        path=conn.path,
        opened_at=conn.opened_at,
        closed_at=conn.closed_at,
        close_code=conn.close_code,
        close_reason=conn.close_reason,
        closed_by=conn.closed_by,
        ws=conn.ws,
    )
