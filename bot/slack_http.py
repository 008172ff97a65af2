"""How the bot's Slack clients send a request: one POST with a wall-clock deadline, a size cap,
and no redirects. bot/slack.py builds its WebClient and WebhookClient from the two classes here.

slack_sdk sends with urllib's `urlopen`, whose timeout applies to each socket operation (a
server dripping a byte every few seconds holds the thread for ever) and whose redirect handler
follows a 3xx with every header, the bot token's `Authorization: Bearer xoxb-…` included, to
whatever host `Location` names. `bounded_post` replaces that one step (slack_sdk's
`_perform_*_internal`), and keeps slack_sdk's retry handlers, parsing and errors around it:

- a watchdog shuts the socket down when the deadline passes, whatever phase the request is in
  (connecting, TLS, headers, body), and the call raises `DeadlineExceeded` (one thread watches
  every request's deadline: a timer thread per call cost the bot a thread start per Slack call);
- a 3xx raises `Redirected`; nothing is sent to the other host and nothing it says is read;
- a body over MAX_ANSWER_BYTES raises `TooLarge`;
- the connection is kept for the thread's next call to the same host (keep-alive: no new TCP
  connection or TLS handshake per call) after a whole 2xx answer, and closed after anything
  else; a kept one that the other side closed while idle is replaced and the request sent on
  the new one;
- any other status >= 400 becomes urllib's HTTPError, as slack_sdk expects, with an absurd
  Retry-After (`1e300`, `inf`) clamped to the client's `max_retry_after`.

slack_sdk builds a debug line of each whole request, its blocks rendered with repr, whenever
its logger's own level is at most DEBUG, which a logger left at NOTSET always is; the clients
here get `sdk_logger`, whose level is the one in effect, so the line is built only when logged.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import io
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.message import Message
from typing import Any, Final, cast
from urllib.error import HTTPError
from urllib.parse import SplitResult, urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError, SlackRequestError
from slack_sdk.webhook import WebhookClient, WebhookResponse

__all__ = [
    "MAX_ANSWER_BYTES",
    "BoundedWebClient",
    "BoundedWebhookClient",
    "DeadlineExceeded",
    "Redirected",
    "TooLarge",
    "bounded_post",
    "clamp_retry_after",
    "sdk_logger",
]

MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024  # Slack's answers to the bot are a few KB


class DeadlineExceeded(TimeoutError):
    """The whole request took longer than its deadline (slack_sdk does not retry it)."""


class Redirected(SlackClientError):
    """Slack (or something in its place) answered 3xx; the redirect was not followed."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Slack answered HTTP {status}: redirects are not followed")
        self.status = status


class TooLarge(SlackClientError):
    """The answer's body is over MAX_ANSWER_BYTES."""


def clamp_retry_after(value: str | None, maximum: float) -> str | None:
    """A Retry-After header's seconds, clamped to [0, maximum] as whole seconds (slack_sdk reads
    it with int()); None when absent, the value unchanged when it is not a number."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return value
    if seconds != seconds:  # NaN
        return "1"
    return str(int(min(max(0.0, seconds), maximum)))


class _Watchdog:
    """One daemon thread that calls each armed callback once its time has come, unless it was
    disarmed first: the deadlines of every Slack request in flight, in one heap."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        with self._lock:
            token = next(self._ids)
            self._armed[token] = callback
            entry = (time.monotonic() + seconds, token)
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="slack-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._lock.notify()  # sooner than what the thread sleeps until (else it sleeps on)
        return token

    def disarm(self, token: int) -> None:
        with self._lock:
            self._armed.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # disarmed: drop it
                if not self._heap:
                    self._lock.wait()
                    continue
                at, token = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._heap)
                callback = self._armed.pop(token)
            with contextlib.suppress(Exception):
                callback()


_WATCHDOG = _Watchdog()


class _Idle(threading.local):
    """This thread's open connections to each host, kept between calls (HTTP keep-alive): a
    new TCP connection, and over HTTPS a TLS handshake, per Slack call cost more than the call."""

    def __init__(self) -> None:
        self.connections: dict[tuple[str, str, int | None, int], http.client.HTTPConnection] = {}


_IDLE = _Idle()
# Errors that say a kept connection was closed by the other side while idle: the request is
# sent once more, on a new connection (slack_sdk's own retry handler retries these too).
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


def _connection(
    parts: SplitResult, timeout: float, context: ssl.SSLContext | None
) -> tuple[tuple[str, str, int | None, int], http.client.HTTPConnection, bool]:
    """A kept connection to the URL's host, or a new one; and whether it was kept."""
    assert parts.hostname is not None
    key = (parts.scheme, parts.hostname, parts.port, id(context))
    kept = _IDLE.connections.pop(key, None)
    if kept is not None:
        kept.timeout = timeout
        if kept.sock is not None:
            kept.sock.settimeout(timeout)
        return key, kept, True
    if parts.scheme == "https":
        return (
            key,
            http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context),
            False,
        )
    return key, http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), False


def bounded_post(
    req: Request,
    *,
    timeout: float,
    deadline: float,
    context: ssl.SSLContext | None,
    max_retry_after: float,
) -> tuple[int, Message, bytes]:
    """POST `req` once: (status, headers, body) of a 2xx. Raises DeadlineExceeded, Redirected,
    TooLarge, HTTPError (status >= 400) or an OSError from the network. The connection is kept
    for this thread's next call after a whole 2xx answer, and closed after anything else."""
    url = req.full_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SlackRequestError("Invalid URL detected: only http(s) URLs are called")
    started = time.monotonic()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    while True:
        key, connection, kept = _connection(parts, min(timeout, deadline), context)
        left = deadline - (time.monotonic() - started)
        try:
            status, response, body = _exchange(connection, target, req, left)
        except _STALE:
            connection.close()
            if kept and time.monotonic() - started < deadline:
                continue  # it had been closed while idle: once more, on a new connection
            raise
        except BaseException:
            connection.close()
            raise
        break
    headers = response.msg
    if 200 <= status < 300 and not response.will_close:
        _IDLE.connections[key] = connection
    else:
        connection.close()
    if status >= 400:
        if "Retry-After" in headers:
            clamped = clamp_retry_after(headers["Retry-After"], max_retry_after)
            del headers["Retry-After"]
            headers["Retry-After"] = clamped or "1"
        raise HTTPError(url, status, response.reason, headers, io.BytesIO(body))
    return status, headers, body


def _exchange(
    connection: http.client.HTTPConnection, target: str, req: Request, deadline: float
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request and its whole answer on `connection`, within `deadline` seconds."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:  # wakes a blocked read or write at once, in any phase
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    started = time.monotonic()
    token = _WATCHDOG.arm(max(0.0, deadline), expire)
    try:
        connection.request("POST", target, body=req.data, headers=dict(req.header_items()))
        response = connection.getresponse()
        status = response.status
        if 300 <= status < 400:
            raise Redirected(status)
        body = response.read(MAX_ANSWER_BYTES + 1)
        if len(body) > MAX_ANSWER_BYTES:
            raise TooLarge(f"Slack's answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB")
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set() or time.monotonic() - started >= deadline:
            raise DeadlineExceeded(f"no complete answer from Slack within {deadline:g} s") from None
        raise error
    finally:
        _WATCHDOG.disarm(token)
    return status, response, body


def _charset(headers: Message) -> str:
    return headers.get_content_charset() or "utf-8"


class _LevelInEffect(logging.LoggerAdapter[logging.Logger]):
    """A slack_sdk logger as its clients ask it. Before each request slack_sdk checks
    `logger.level <= DEBUG` and, if so, builds a debug line of the whole request (its JSON body,
    every block, rendered with repr) and, for response_url answers, of the whole response. Its
    loggers are left at NOTSET, 0, so the check always passes, and logging then drops the line
    (the bot keeps slack_sdk at WARNING: bot.logs). Here `level` is the level in effect, so a
    line is built only when it would be logged; everything else goes to the logger itself, so
    records, names, handlers and levels are slack_sdk's own."""

    @property
    def level(self) -> int:
        return self.logger.getEffectiveLevel()


def sdk_logger(name: str) -> logging.Logger:
    """slack_sdk's logger `name`, for a client's `logger=` (see `_LevelInEffect`)."""
    return cast(logging.Logger, _LevelInEffect(logging.getLogger(name)))


class BoundedWebClient(WebClient):
    """slack_sdk's WebClient, each request sent by `bounded_post`: a 3xx is an error, never
    followed; `deadline` seconds at most per attempt."""

    def __init__(self, *args: Any, deadline: float, max_retry_after: float, **kwargs: Any) -> None:
        kwargs.setdefault("logger", sdk_logger("slack_sdk.web.base_client"))
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.max_retry_after = max_retry_after

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        status, headers, body = bounded_post(
            req,
            timeout=self.timeout,
            deadline=self.deadline,
            context=self.ssl,
            max_retry_after=self.max_retry_after,
        )
        return {"status": status, "headers": headers, "body": body.decode(_charset(headers), "replace")}


class BoundedWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (response_url answers), each request sent by `bounded_post`."""

    def __init__(self, *args: Any, deadline: float, max_retry_after: float, **kwargs: Any) -> None:
        kwargs.setdefault("logger", sdk_logger("slack_sdk.webhook.client"))
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.max_retry_after = max_retry_after

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        status, headers, body = bounded_post(
            req,
            timeout=self.timeout,
            deadline=self.deadline,
            context=self.ssl,
            max_retry_after=self.max_retry_after,
        )
        return WebhookResponse(
            url=url,
            status_code=status,
            body=body.decode(_charset(headers), "replace"),
            headers=dict(headers.items()),
        )
