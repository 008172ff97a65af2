"""The one Polytomic API client, PolytomicClient: its credentials, its pooled connection, and
`_request`, the one way out.

Contract: /work/shared/polytomic/API.md. Built once in bot/services.py and used by the tracker,
the answers to people and `polytomic-bot check`. Its endpoint methods, one an endpoint, are
mixed in from endpoints/, grouped by resource: syncs.py (syncs and their executions),
connections.py, events.py, webhooks.py, identity.py. They build each request and parse each
answer into the typed values of models.py; what is here sends it: auth, retries with backoff
(honouring Retry-After on a 429, the policy in `_retry_delay`), logging, redaction of the key
from error texts, and the metrics hook. Failures are raised as the hierarchy in
errors.py, whose from_response / from_transport pick the class. The small pieces it is built
from are in transport.py; the wall-clock deadline on each attempt and the cap on an answer's size
are in bounded.py.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx

from bot.polytomic.bounded import TooLarge, bounded_transport, deadline, read_capped
from bot.polytomic.endpoints import (
    ConnectionEndpoints,
    EventEndpoints,
    IdentityEndpoints,
    SyncEndpoints,
    WebhookEndpoints,
)
from bot.polytomic.endpoints.syncs import MAX_PAGE_SIZE
from bot.polytomic.endpoints.webhooks import WEBHOOK_SECRET_LENGTH
from bot.polytomic.error_bodies import error_text
from bot.polytomic.errors import (
    PolytomicError,
    RateLimited,
    TimedOut,
    Unavailable,
    from_response,
    from_transport,
)
from bot.polytomic.secret import Secret
from bot.polytomic.transport import (
    ACCEPT_ENCODING,
    USER_AGENT,
    HeaderAuth,
    validate_idempotency_key,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "FANOUT_THREADS",
    "MAX_PAGE_SIZE",
    "WEBHOOK_SECRET_LENGTH",
    "PolytomicClient",
]

logger = logging.getLogger("bot.polytomic")  # one logger for the whole package
FANOUT_THREADS = 32  # requests sync_and_status() sends alongside its caller's, at most

DEFAULT_API_VERSION: Final = "2025-09-18"
_T = TypeVar("_T")


# --------------------------------------------------------------------------- the client


class PolytomicClient(
    SyncEndpoints, ConnectionEndpoints, EventEndpoints, WebhookEndpoints, IdentityEndpoints
):
    """Synchronous Polytomic client; thread-safe (one pooled httpx transport)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        deployment_key: str | None = None,
        organization_id: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 10.0,
        deadline: float | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
        shared_retry_after: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_error: Callable[[PolytomicError], None] | None = None,
    ) -> None:
        # Error texts below never echo the values: they are secrets.
        if api_key and deployment_key:
            raise ValueError("give either api_key or deployment_key + organization_id, not both")
        if deployment_key and not organization_id:
            raise ValueError("deployment_key needs organization_id (Basic auth user name)")
        if not api_key and not deployment_key:
            raise ValueError("an api_key, or a deployment_key with organization_id, is required")
        secret = api_key or deployment_key or ""
        if secret != secret.strip() or any(c in secret for c in "\r\n\0"):
            raise ValueError("the Polytomic key contains whitespace or control characters")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        if max_retries < 0 or timeout <= 0 or (deadline is not None and deadline <= 0):
            raise ValueError("max_retries must be >= 0, timeout and deadline > 0")

        if api_key:
            # With a Bearer key the organization is implied by the key; organization_id is
            # accepted (configs may set it) but not sent.
            self._auth_kind = "bearer"
            header = f"Bearer {api_key}"
            self._secrets: tuple[Secret, ...] = (Secret(api_key),)
        else:
            assert deployment_key is not None and organization_id is not None
            self._auth_kind = "basic"
            token = base64.b64encode(f"{organization_id}:{deployment_key}".encode()).decode()
            header = f"Basic {token}"
            self._secrets = (Secret(deployment_key), Secret(token))
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.organization_id = organization_id
        self.timeout = timeout  # seconds for one connect, read or write
        # Wall-clock seconds for one attempt, whatever the server drips (bounded.py).
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._on_error = on_error  # sees every failed attempt, retried or not (for metrics)
        # No httpx.Client: its per-request machinery (auth flow, redirect loop, cookie jar, URL
        # merging) cost more CPU than the request itself (bench/http_calls.py). A request is
        # built here and handed to the transport; nothing follows a redirect (it would re-send
        # the key to wherever it points) and no cookie is kept.
        self._auth = HeaderAuth(header)
        self._headers: Final = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Connection": "keep-alive",
            "User-Agent": USER_AGENT,
            "X-Polytomic-Version": api_version,
        }
        self._extensions: Final = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._transport = transport if transport is not None else bounded_transport()
        # A 429's Retry-After closes the whole client until it has passed, so that the tracker's
        # concurrent calls (a stop's cancels, several at once) wait it out together instead of
        # each being refused in turn.
        self.shared_retry_after = shared_retry_after  # the tracker's client: on
        self._closed_until = 0.0
        self._closed_lock = threading.Lock()
        self._fanout: ThreadPoolExecutor | None = None  # made on first use
        self._fanout_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PolytomicClient(base_url={self.base_url!r}, auth={self._auth_kind!r})"

    # -- lifecycle

    def close(self) -> None:
        with self._fanout_lock:
            if self._fanout is not None:
                self._fanout.shutdown(wait=False, cancel_futures=True)
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transport

    def _alongside(self, call: Callable[[], _T]) -> Future[_T]:
        with self._fanout_lock:
            if self._fanout is None:
                self._fanout = ThreadPoolExecutor(FANOUT_THREADS, thread_name_prefix="polytomic")
            fanout = self._fanout
        return fanout.submit(call)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        idempotency_key: str | None = None,
        also_redact: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """`also_redact`: secrets this request sends (a webhook's), kept out of error texts
        like the key is, should Polytomic echo them back."""
        headers = dict(self._headers)
        headers["Authorization"] = self._auth.value
        if method != "GET":
            # Polytomic replays the first answer for a repeated key, which is what makes
            # retrying a POST (and a duplicated Slack click) safe.
            if idempotency_key is None:
                raise ValueError("POST requests need an idempotency_key")
            headers["Idempotency-Key"] = validate_idempotency_key(idempotency_key)
        url = httpx.URL(self.base_url + path, params=params)
        attempt = 0
        waited = False  # this call has just slept out a Retry-After itself
        while True:
            if not waited:
                self._wait_out_retry_after(method, path)
            started = time.monotonic()
            status: int | None = None
            # One window for the whole attempt: connecting, sending, the headers and the body.
            with deadline(self.deadline) as ends:
                try:
                    request = httpx.Request(
                        method, url, json=json_body, headers=headers, extensions=self._extensions
                    )
                    response = self._transport.handle_request(request)
                    try:
                        response.request = request
                        status = response.status_code
                        body = read_capped(response)
                    finally:
                        response.close()
                except httpx.TransportError as exc:  # timeouts included
                    spent = time.monotonic() >= ends
                    error: PolytomicError = from_transport(
                        exc, timeout=self.deadline if spent else self.timeout, method=method, path=path
                    )
                    if isinstance(error, TimedOut):
                        error.deadline = spent
                except TooLarge as exc:
                    error = PolytomicError(str(exc), status=status, method=method, path=path)
                else:
                    text = body.decode(response.encoding or "utf-8", errors="replace")
                    if 200 <= status < 300:
                        self._log(method, path, status, started, attempt, logging.DEBUG)
                        return self._json(text, status, method, path, also_redact)
                    error = from_response(
                        response, method=method, path=path, redact=self._redactor(also_redact), text=text
                    )
            self._log(method, path, status, started, attempt, logging.INFO)
            if self._on_error is not None:
                self._on_error(error)

            if self.shared_retry_after and isinstance(error, RateLimited) and error.retry_after:
                with self._closed_lock:
                    self._closed_until = max(self._closed_until, time.monotonic() + error.retry_after)
            delay = self._retry_delay(error, method, attempt)
            if delay is None:
                raise error
            logger.debug("polytomic %s %s: retrying in %.2fs", method, path, delay)
            self._sleep(delay)
            waited = isinstance(error, RateLimited)
            attempt += 1

    def _wait_out_retry_after(self, method: str, path: str) -> None:
        """Nothing is sent while a Retry-After Polytomic gave this client runs: wait it out when
        it is short, else refuse at once (RateLimited with what is left), as Polytomic would."""
        if not self.shared_retry_after:
            return
        with self._closed_lock:
            left = self._closed_until - time.monotonic()
        if left <= 0:
            return
        if left > self.max_retry_after:
            raise RateLimited(
                "waiting out Polytomic's Retry-After", retry_after=left, method=method, path=path
            )
        self._sleep(left)

    def _retry_delay(self, error: PolytomicError, method: str, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up with `error`."""
        if attempt >= self.max_retries or (isinstance(error, TimedOut) and error.deadline):
            # A server that used the whole window is stuck, not briefly away: another attempt
            # would hold the caller as long again (the tracker's next pass asks anew).
            return None
        if isinstance(error, RateLimited):
            if error.retry_after is not None:
                if error.retry_after > self.max_retry_after:
                    return None  # waiting that long would stall a Slack interaction
                return error.retry_after
        elif not isinstance(error, Unavailable):
            return None  # 4xx: retrying cannot help (and 409 on a POST is a duplicate)
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    def _json(
        self, text: str, status: int, method: str, path: str, also_redact: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not text.strip():
            return {}
        try:
            body: object = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            raise PolytomicError(
                self._redactor(also_redact)(f"answer is not JSON: {error_text(text[:10_000])}"),
                status=status,
                method=method,
                path=path,
            ) from None
        return body if isinstance(body, dict) else {}

    def _redact(self, text: str) -> str:
        # A misbehaving server or proxy could echo the credentials back in an error body.
        for secret in self._secrets:
            if secret.value:
                text = text.replace(secret.value, "[redacted]")
        return text

    def _redactor(self, extra: tuple[str, ...]) -> Callable[[str], str]:
        if not extra:
            return self._redact

        def redact(text: str) -> str:
            # Longest first, so a secret containing another is removed whole.
            for value in sorted((v for v in extra if v), key=len, reverse=True):
                text = text.replace(value, "[redacted]")
            return self._redact(text)

        return redact

    def _log(
        self, method: str, path: str, status: int | None, started: float, attempt: int, level: int
    ) -> None:
        logger.log(
            level,
            "polytomic %s %s -> %s in %.0f ms (attempt %d/%d)",
            method,
            path,
            status if status is not None else "no answer",
            (time.monotonic() - started) * 1000,
            attempt + 1,
            self.max_retries + 1,
        )
