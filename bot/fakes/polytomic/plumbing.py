"""The HTTP plumbing of the fake Polytomic: a threading server whose handler hands every
request to FakePolytomic._serve, on keep-alive connections like a real API's.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from bot.fakes.polytomic.common import log

if TYPE_CHECKING:
    from bot.fakes.polytomic.server import FakePolytomic

__all__ = ["Handler", "Server"]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePolytomic


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections, as they would in production
    server_version = "FakePolytomic/1.0"
    timeout = 10  # idle keep-alive connections give their thread back
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake polytomic: " + format, *args)

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            if body or status != 200:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (e.g. its timeout fired): nothing to answer
            self.close_connection = True

    def drip(
        self, every: float, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """The whole answer, one byte every `every` seconds, until it is sent or the client
        goes: each byte is in time for any per-read timeout, the answer never for a deadline."""
        head = f"HTTP/1.1 {status} Dripping\r\nContent-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        raw = (head + "\r\n").encode() + body
        self.close_connection = True
        try:
            for i in range(len(raw)):
                self.wfile.write(raw[i : i + 1])
                self.wfile.flush()
                time.sleep(every)
                if self.server.fake._stopping:
                    return
        except OSError:  # the client gave up: that is the point
            return

    def drop(self) -> None:
        """Close without answering; linger 0 turns the close into a TCP reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
