"""A wall-clock deadline and a size cap on every Polytomic answer, whatever the server sends.

httpx's timeouts apply to each socket operation, so a server (or a proxy) that drips a byte
every few seconds would hold the calling thread for ever. Here:

- `deadline(seconds)` opens a window on the calling thread (the client opens one per attempt);
- `bounded_transport()` is httpx's own transport whose network streams give every connect, read
  and write at most what is left of that window (and raise httpcore's timeout once it is spent),
  so no drip outlasts it: headers, body and TLS records alike;
- `read_capped` reads a streamed answer's (decoded) body up to MAX_ANSWER_BYTES and raises
  `TooLarge` beyond it, so a huge or endlessly compressed answer costs at most that much memory.

Only client.py uses these. The window is per thread, so the client's fan-out threads each keep
their own; a thread with no window open (a test's transport) is bounded by httpx's timeouts alone.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final

import httpcore
import httpx

__all__ = ["MAX_ANSWER_BYTES", "TooLarge", "bounded_transport", "deadline", "read_capped"]

# Polytomic's largest page (a few hundred syncs with their fields) is well under 1 MB.
MAX_ANSWER_BYTES: Final = 8 * 1024 * 1024

_window = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Every network operation on this thread must end within `seconds` from now; yields the
    monotonic time it ends."""
    previous = getattr(_window, "ends", None)
    ends = time.monotonic() + seconds
    _window.ends = ends
    try:
        yield ends
    finally:
        _window.ends = previous


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    ends: float | None = getattr(_window, "ends", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bounded_transport() -> httpx.HTTPTransport:
    """httpx's transport, its connection pool on network streams bounded by `deadline`."""
    transport = httpx.HTTPTransport()
    pool = transport._pool  # httpx builds the pool; httpcore takes the backend as is
    if not isinstance(pool, httpcore.ConnectionPool):  # pragma: no cover - a proxy configured
        raise RuntimeError("the Polytomic transport expects httpx's own connection pool")
    pool._network_backend = _Backend(pool._network_backend)
    return transport


class TooLarge(Exception):
    """The answer's body is over the cap; `limit` is the cap in bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer is larger than {limit // (1024 * 1024)} MB")
        self.limit = limit


def read_capped(response: httpx.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The streamed answer's body, decoded (gzip and the like), at most `limit` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
