"""The HTTP server of `serve`: waitress in front of the WSGI app, in the bot's one process, with a
total deadline for reading each request and a SIGTERM drain.

Why waitress: a slow or hostile client must never hold a request thread. waitress reads every
request, head and body, on its I/O loop and hands one of its threads only a complete request. It
answers a declared body over the cap with 413 before reading any of it (a chunked one as soon as
it passes the cap), a head over the cap with 431, and it caps open connections (at the cap it
stops accepting, so newcomers wait in the kernel's backlog). Of the servers measured for this
(README, "Serving") it costs the least CPU per request.

What waitress lacks is added here through its internals, which is why pyproject.toml pins it
exactly (waitress==3.0.2; an upgrade is a deliberate step, with tests/e2e/test_slow_clients.py):
- a total read deadline. `channel_timeout` counts inactivity only, so a byte every 2 s would keep
  a request open for ever. `_Channel` remembers when the request it is reading began, and
  `_Server.maintenance` (which waitress runs every `cleanup_interval`, here once a second)
  closes the connection once `request_seconds` have passed without the request being complete;
- a drain. waitress's own stop resets kept-alive connections and leaves queued ones unanswered.
  Here SIGTERM (or SIGINT) closes the listening socket, so new connections are refused; idle
  connections are closed; the loop runs until every request already read has been answered
  (within `Limits.http_drain_seconds`); then `on_drain` gets what is left of the budget;
- `on_refused(status)`: the requests waitress answered itself (400, 413, 431, 501), for the
  bot's bounded metric of refused requests.

Internals used: `HTTPChannel.received`, `.request`, `.requests`, `.will_close`,
`.total_outbufs_len`, `.error_task_class`; `ErrorTask.execute`; `BaseWSGIServer.maintenance`,
`.active_channels`, `._map`, `.task_dispatcher`, `.pull_trigger`; `wasyncore.loop`,
`wasyncore.close_all`, `wasyncore.dispatcher.close`.
"""

from __future__ import annotations

import logging
import resource
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

log = logging.getLogger("bot.serving")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

LOOP_SECONDS = 0.5  # one pass of the I/O loop waits at most this long for a socket to be ready
FD_RESERVE = 256  # descriptors kept for everything else: the database, Slack and Polytomic clients


class CannotListen(Exception):
    """The port cannot be bound (in use, or not allowed): one line that says which and why."""


@dataclass(frozen=True)
class Limits:
    """What one client may take. Slack's requests are a few kB and arrive in one packet."""

    request_seconds: float = 5.0  # to read one request, head and body, from its first byte
    idle_seconds: int = 5  # a connection with no request under way (waitress's channel_timeout)
    max_head_bytes: int = 16 * 1024  # more: 431
    max_body_bytes: int = 128 * 1024  # more: 413, before the body is read. Slack's are far below
    max_connections: int = 1000  # bodies being read stay under 128 MiB together
    threads: int = 8  # app calls at once; each one gets a complete request
    backlog: int = 2048  # connections the kernel queues while the bot is at max_connections
    drain_seconds: float = 8.0  # SIGTERM to return from serve(), on_drain included
    http_drain_seconds: float = 3.0  # of which requests already read get this long to be answered


class _ErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it refused itself; counted before it is written."""

    def execute(self) -> None:
        status = int(self.request.error.code)
        server = self.channel.server
        if status != 500 and isinstance(server, _Server):  # a 500 is the app failing, not a refusal
            server.refused(status)
        super().execute()


class _Channel(HTTPChannel):  # type: ignore[misc]
    """A connection that remembers when the request it is reading began. waitress keeps that
    request's parser in `self.request` until the request is complete, then queues it in
    `self.requests` for a thread and sets `self.request` back to None."""

    error_task_class = _ErrorTask
    request_started: float | None = None  # time.monotonic() of the first byte of self.request

    def received(self, data: bytes) -> bool:
        reading = self.request
        result = bool(super().received(data))
        if self.request is None:
            self.request_started = None
        elif self.request is not reading or self.request_started is None:
            self.request_started = time.monotonic()  # a new request began in these bytes
        return result


class _Server(TcpWSGIServer):  # type: ignore[misc]
    channel_class = _Channel
    request_seconds = Limits.request_seconds
    on_refused: Callable[[int], None] | None = None

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # closes connections idle for channel_timeout
        cutoff = time.monotonic() - self.request_seconds
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", None)
            if channel.request is not None and started is not None and started < cutoff:
                channel.will_close = True  # still reading one request: out of time, no answer

    def refused(self, status: int) -> None:
        log.info("refused request", extra={"status": status, "reason": "refused by the server"})
        if self.on_refused is not None:
            try:
                self.on_refused(status)
            except Exception:  # a metric must never cost the answer
                log.exception("on_refused failed")


def serve(
    app: WSGIApp,
    port: int,
    *,
    on_start: Callable[[], None] | None = None,
    on_drain: Callable[[float], None] | None = None,
    on_refused: Callable[[int], None] | None = None,
    on_listening: Callable[[int], None] | None = None,
    limits: Limits = Limits(),
    host: str = "0.0.0.0",
) -> None:
    """Serve `app` on host:port until SIGTERM or SIGINT, then drain and return. Call it from the
    main thread: it installs the two signal handlers (and puts the previous ones back).

    `on_start` runs once the socket listens (start the tracker there); `on_drain(seconds_left)`
    runs after the HTTP side has drained (stop the tracker there, within seconds_left);
    `on_refused(status)` counts the requests waitress answered itself (400, 413, 431, 501);
    `on_listening(port)` is told the port the socket is bound to (the kernel's pick for 0),
    before `on_start`. Raises CannotListen when the port cannot be bound.
    """
    connections = _connection_capacity(limits.max_connections)
    try:
        server = _make_server(app, host, port, limits, connections)
    except OSError as error:
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    server.request_seconds = limits.request_seconds
    server.on_refused = on_refused
    # "Task queue depth is N" is a warning each time a request waits for a thread: in a burst,
    # a line per request.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    stopping: list[float] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(time.monotonic())
            log.info("signal received, draining", extra={"signal": signal.Signals(signum).name})
        server.pull_trigger()  # wake the loop now rather than at its next timeout

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    channels = server._map  # the listening socket, waitress's trigger and every connection
    try:
        log.info("listening", extra={"port": port, "max_connections": connections})
        if on_listening is not None:
            on_listening(int(server.effective_port))
        if on_start is not None:
            on_start()
        while not stopping:
            wasyncore.loop(timeout=LOOP_SECONDS, map=channels, use_poll=True, count=1)
        deadline = stopping[0] + limits.drain_seconds
        _drain(server, channels, min(deadline, stopping[0] + limits.http_drain_seconds))
        if on_drain is not None:
            on_drain(max(0.5, deadline - time.monotonic()))
        log.info("drained")
    finally:
        wasyncore.close_all(channels, ignore_all=True)  # a no-op after a drain
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _make_server(app: WSGIApp, host: str, port: int, limits: Limits, connections: int) -> _Server:
    return _Server(
        app,
        host=host,
        port=port,
        threads=limits.threads,
        connection_limit=connections,
        channel_timeout=limits.idle_seconds,
        cleanup_interval=1,  # maintenance, and so the read deadline, runs once a second
        asyncore_use_poll=True,  # select() stops at 1024 descriptors
        max_request_body_size=limits.max_body_bytes,
        max_request_header_size=limits.max_head_bytes,
        backlog=limits.backlog,
        ident="polytomic-bot",
        log_socket_errors=False,  # a client that resets its connection is not the bot's error
    )


def _drain(server: _Server, channels: dict[int, Any], deadline: float) -> None:
    """Refuse new connections, answer the requests already read (until `deadline`), close the
    rest. A connection still reading a request gets no answer, as at its read deadline."""
    wasyncore.dispatcher.close(server)  # the listening socket only: the trigger stays
    while time.monotonic() < deadline:
        busy = False
        for channel in list(server.active_channels.values()):
            if channel.requests or channel.total_outbufs_len:
                busy = True
            elif channel.request is None:
                channel.will_close = True  # idle (kept alive, or just answered): close it now
        if not busy:
            break
        wasyncore.loop(timeout=0.05, map=channels, use_poll=True, count=1)
    unanswered = sum(1 for c in server.active_channels.values() if c.requests)
    if unanswered:
        log.warning("drain: closing %d connection(s) with a request unanswered", unanswered)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(channels, ignore_all=True)


def _connection_capacity(wanted: int) -> int:
    """`wanted` connections, or as many as the process's descriptor limit leaves room for:
    raises the soft limit towards the hard one first (a default of 1024 is common)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    capacity = max(1, soft - FD_RESERVE)
    log.warning("the descriptor limit (ulimit -n %d) allows %d connections, not %d", soft, capacity, wanted)
    return capacity
