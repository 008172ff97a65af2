"""The bot's Slack client keeps its connection between calls (bot/slack_http.py): a thread's
calls to one host share one TCP connection; one that the server closed while idle is replaced
and the call sent once, on the new one; an error answer closes the connection. The server is a
real HTTP/1.1 server on 127.0.0.1 that counts connections and requests."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack_http import BoundedWebClient


class KeepAlive(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests: list[str] = []
        self.status = 200
        self.close_after_answer = False  # close each connection once it has answered (idle close)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KeepAlive

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.requests.append(self.path)
        status = self.server.status
        body = json.dumps({"ok": status == 200, "ts": "1.0"} if status == 200 else {"ok": False}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if self.server.close_after_answer:
            self.close_connection = True  # closed without telling the client: as an idle timeout

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[KeepAlive]:
    srv = KeepAlive()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def client(server: KeepAlive) -> BoundedWebClient:
    return BoundedWebClient(
        token="xoxb-test-token", base_url=server.url, timeout=5, deadline=5, max_retry_after=5
    )


def post(c: BoundedWebClient) -> Any:
    return c.api_call("chat.postMessage", json={"channel": "C1", "text": "hi"})


def test_calls_from_one_thread_share_one_connection(server: KeepAlive) -> None:
    c = client(server)
    for _ in range(5):
        assert post(c)["ok"] is True
    assert len(server.requests) == 5
    assert server.connections == 1


def test_each_thread_has_its_own_connection(server: KeepAlive) -> None:
    c = client(server)
    post(c)
    other = threading.Thread(target=lambda: [post(c) for _ in range(3)])
    other.start()
    other.join()
    post(c)
    assert len(server.requests) == 5
    assert server.connections == 2


def test_a_connection_closed_while_idle_is_replaced_and_the_call_sent_once(server: KeepAlive) -> None:
    c = client(server)
    server.close_after_answer = True
    for _ in range(3):
        assert post(c)["ok"] is True
    # Each kept connection had been closed by the server; every call still went out exactly once.
    assert len(server.requests) == 3
    assert server.connections == 3


def test_an_error_answer_closes_the_connection(server: KeepAlive) -> None:
    c = client(server)
    post(c)
    server.status = 500
    with pytest.raises(SlackApiError):
        post(c)
    server.status = 200
    post(c)
    assert server.connections == 2  # the 500's connection was not used again


class Canned:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers every request with `answer` (bytes as
    they go on the wire), and closes the connection after it when `close` is set."""

    def __init__(self, answer: bytes, *, close: bool = False) -> None:
        self.answer = answer
        self.close = close
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
                self.requests.append(head + reader.read(length))
                conn.sendall(self.answer)
                if self.close:
                    return


@pytest.fixture
def canned() -> Iterator[list[Canned]]:
    servers: list[Canned] = []
    yield servers
    for server in servers:
        server.listener.close()


def canned_client(server: Canned) -> BoundedWebClient:
    return BoundedWebClient(
        token="xoxb-test-token", base_url=server.url, timeout=5, deadline=5, max_retry_after=5
    )


def test_a_chunked_answer_is_read_whole_and_its_connection_kept(canned: list[Canned]) -> None:
    body = json.dumps({"ok": True, "ts": "1.0", "channel": "C1"}).encode()
    server = Canned(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (5, body[:5], len(body) - 5, body[5:])
    )
    canned.append(server)
    c = canned_client(server)
    for _ in range(3):
        assert post(c)["ts"] == "1.0"
    assert len(server.requests) == 3 and server.connections == 1
    # What went out is one whole request: the head, then the JSON body of its Content-Length.
    head, _, sent = server.requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/chat.postMessage HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer xoxb-test-token" in head
    assert json.loads(sent) == {"channel": "C1", "text": "hi"}


def test_an_answer_that_says_close_is_followed_by_a_new_connection(canned: list[Canned]) -> None:
    body = b'{"ok": true, "ts": "2.0"}'
    server = Canned(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
        close=True,
    )
    canned.append(server)
    c = canned_client(server)
    for _ in range(3):
        assert post(c)["ts"] == "2.0"
    assert len(server.requests) == 3 and server.connections == 3


def test_slack_sdks_debug_lines_are_logged_at_debug_only(
    server: KeepAlive, caplog: pytest.LogCaptureFixture
) -> None:
    """The client's logger is slack_sdk's, its level the one in effect (bot.slack_http
    `sdk_logger`): at WARNING the request's line is never built; at DEBUG it is logged as
    slack_sdk logs it, the token redacted."""
    c = client(server)
    with caplog.at_level(logging.WARNING, logger="slack_sdk"):
        post(c)
    assert not [r for r in caplog.records if r.name.startswith("slack_sdk")]
    with caplog.at_level(logging.DEBUG, logger="slack_sdk"):
        post(c)
    lines = [r.getMessage() for r in caplog.records if r.name == "slack_sdk.web.base_client"]
    assert any(line.startswith("Sending a request") and "(redacted)" in line for line in lines)
    assert not any("xoxb-test-token" in line for line in lines)
