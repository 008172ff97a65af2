"""The WebSocket side of the fake Socket Mode: what Slack's end of the socket does.

A connection needs a ticket issued by apps.connections.open that was not used yet (HTTP 401
otherwise); on connect the fake sends `hello` like Slack. A test sends envelopes (slash
commands, clicks, anything) to the newest open connection or a given one, asks for a refresh
(`disconnect`) or closes a socket; every frame is recorded, and the client's acks are matched
to their envelopes. Anything the client sends that is not a well-formed ack of a known
envelope lands in `problems`.

One module because the two directions share the connection bookkeeping and the waits.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

from bot.fakes.signing import block_actions_payload, slash_command_body
from bot.fakes.socket_mode.records import Ack, Envelope, Frame, SocketConnection, copy_connection
from bot.fakes.socket_mode.state import SocketModeState


class Sockets(SocketModeState):
    """Connections, envelopes out, acks in, and waiting for them."""

    # ----------------------------------------------------------------- records

    @property
    def connections(self) -> list[SocketConnection]:
        with self._lock:
            return [copy_connection(c) for c in self._connections]

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
        return copy_connection(self._connection(connection_id))

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> Ack:
        """Wait for the client's ack of an envelope; ``Ack.elapsed`` is how long it took."""
        with self._lock:
            if envelope_id not in self._envelopes:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
        self._wait(lambda: self._envelopes[envelope_id].acks, timeout, f"the ack of {envelope_id}")
        with self._lock:
            return self._envelopes[envelope_id].acks[0]

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
            self._envelopes[envelope_id] = Envelope(envelope_id, type, message, conn.id, time.monotonic())
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

    def send_events_api(
        self,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection_id: int | None = None,
        envelope_id: str | None = None,
    ) -> str:
        """An Events API event (``events_api`` envelope), e.g. the `event_callback` of
        ``bot.fakes.signing.app_home_opened``: Slack sets ``retry_attempt`` 0 on the first
        delivery and counts up on each redelivery of an envelope it saw no ack for."""
        return self.send_envelope(
            "events_api",
            payload,
            accepts_response_payload=False,
            connection_id=connection_id,
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
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

    # ----------------------------------------------------------------- the server's side of the protocol

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
