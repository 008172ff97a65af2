"""A small TCP proxy that a test can cut and restore: a database that is briefly unreachable.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:      # listens on 127.0.0.1, ephemeral port
        url = make_url(postgres_url).set(host=proxy.host, port=proxy.port)
        ...                                            # point the code under test at url
        proxy.pause()      # every open connection is reset; new ones are accepted and reset at once
        proxy.resume()     # new connections reach the target again
        proxy.blackhole()  # the path goes silent: nothing moves either way, nothing is reset
        proxy.restore()    # what was held moves on, as TCP delivers it once the path is back

Threads only (one acceptor, two pumps per connection), no import of the bot's own modules. While
paused, a new connection is accepted and closed with a TCP reset (linger 0), so a client fails at once
("server closed the connection unexpectedly") instead of hanging until its own timeout. While
blackholed, bytes are taken from each side (the kernel acknowledges them, as a proxy or a load
balancer in the path would) and held, and a new connection is accepted but not passed on: every
client waits on its own timeouts, the way it does when packets are lost.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from dataclasses import dataclass, field

__all__ = ["TcpProxy"]

log = logging.getLogger("bot.fakes.tcp_proxy")

_BUFFER = 65536


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees a reset, as when a network path dies."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass(eq=False)
class _Pair:
    client: socket.socket
    upstream: socket.socket
    closed: threading.Event = field(default_factory=threading.Event)

    def cut(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            _reset(sock)


class TcpProxy:
    """127.0.0.1:<ephemeral> → target. Thread-safe; counters for tests to look at."""

    def __init__(
        self, target: tuple[str, int] = ("127.0.0.1", 5432), *, connect_timeout: float = 5.0
    ) -> None:
        self.target = target
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._paused = False
        self._flowing = threading.Event()  # cleared while blackholed
        self._flowing.set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self.accepted = 0  # connections proxied to the target
        self.refused = 0  # connections reset because the proxy was paused
        self.cut_connections = 0  # open connections cut by pause()

    # -- lifecycle

    def start(self) -> TcpProxy:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.1)  # so the acceptor notices stop()
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept_loop, name="tcp-proxy-accept", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._flowing.set()  # nothing waits for a path that is not coming back
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        self._cut_all()
        self._listener = self._acceptor = None

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("TcpProxy is not started")
        return int(self._listener.getsockname()[1])

    # -- the fault

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def pause(self) -> None:
        """Cut every open connection now and reset new ones until resume()."""
        with self._lock:
            self._paused = True
        self.cut_connections += self._cut_all()

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def blackhole(self) -> None:
        """Go silent: hold every byte, both ways, on open and new connections, until restore()."""
        self._flowing.clear()

    def restore(self) -> None:
        self._flowing.set()

    @property
    def blackholed(self) -> bool:
        return not self._flowing.is_set()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for p in self._pairs if not p.closed.is_set())

    # -- plumbing

    def _cut_all(self) -> int:
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.cut()
        return len(pairs)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        listener = self._listener
        while not self._stopping.is_set():
            try:
                client, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            client.settimeout(None)
            with self._lock:
                paused = self._paused
            if paused:
                self.refused += 1
                _reset(client)
                continue
            if not self._flowing.is_set():  # the connection waits for the path, off this thread
                threading.Thread(target=self._connect, args=(client,), daemon=True).start()
                continue
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()
        if self._stopping.is_set():
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
        except OSError as error:
            log.warning("tcp proxy: cannot reach %s:%s: %s", *self.target, error)
            _reset(client)
            return
        upstream.settimeout(None)
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(client, upstream)
        with self._lock:
            paused = self._paused  # paused while we were connecting
            if not paused:
                self._pairs.add(pair)
                self.accepted += 1
        if paused:
            self.refused += 1
            pair.cut()
            return
        for source, sink, name in ((client, upstream, "up"), (upstream, client, "down")):
            threading.Thread(
                target=self._pump, args=(pair, source, sink), name=f"tcp-proxy-{name}", daemon=True
            ).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not pair.closed.is_set():
                data = source.recv(_BUFFER)
                self._flowing.wait()  # blackholed: held here, and the next recv waits too
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended: end both, so neither end waits on a half-dead connection.
            with self._lock:
                self._pairs.discard(pair)
            pair.cut()
