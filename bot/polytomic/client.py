"""The one Polytomic API client, PolytomicClient: model syncs, their executions, cancellation,
connections, events and the organization's webhook.

Contract: /work/shared/polytomic/API.md. Built once in bot/services.py and used by the tracker,
the answers to people and `polytomic-bot check`. Each public method is one endpoint: it builds
the request (IDs quoted as one path segment, POSTs with an Idempotency-Key) and returns the
typed values of models.py. `_request` is the one way out: auth, retries with backoff (honouring
Retry-After on a 429), logging, redaction of the key from error texts, and the metrics hook.
Failures are raised as the hierarchy in errors.py, whose from_response / from_transport pick
the class. The small pieces it is built from are in transport.py.
"""

from __future__ import annotations

import base64
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

import httpx

from bot.polytomic.errors import PolytomicError, RateLimited, Unavailable, from_response, from_transport
from bot.polytomic.events import MAX_EVENTS_LIMIT, Event, EventWindow, parse_events, read_window
from bot.polytomic.models import (
    Connection,
    Execution,
    Identity,
    Secret,
    Sync,
    SyncStatus,
    Webhook,
    error_text,
    find_connection,
    next_page_token,
    parse_connection,
    parse_execution,
    parse_identity,
    parse_message,
    parse_sync,
    parse_sync_status,
    parse_webhook,
)
from bot.polytomic.transport import (
    USER_AGENT,
    HeaderAuth,
    bool_param,
    paginate,
    segment,
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
MAX_PAGE_SIZE: Final = 50  # the API caps `limit` at 50
WEBHOOK_SECRET_LENGTH: Final = (6, 32)  # Polytomic's rule for a webhook's secret


# --------------------------------------------------------------------------- the client


class PolytomicClient:
    """Synchronous Polytomic client; thread-safe (one pooled httpx.Client)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        deployment_key: str | None = None,
        organization_id: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
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
        if max_retries < 0 or timeout <= 0:
            raise ValueError("max_retries must be >= 0 and timeout > 0")

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
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._on_error = on_error  # sees every failed attempt, retried or not (for metrics)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=HeaderAuth(header),
            headers={
                "X-Polytomic-Version": api_version,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,  # a redirect would re-send the key to wherever it points
        )
        self._fanout: ThreadPoolExecutor | None = None  # made on first use
        self._fanout_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PolytomicClient(base_url={self.base_url!r}, auth={self._auth_kind!r})"

    # -- lifecycle

    def close(self) -> None:
        with self._fanout_lock:
            if self._fanout is not None:
                self._fanout.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- syncs

    def get_sync(self, sync_id: str) -> Sync:
        body = self._request("GET", f"/api/syncs/{segment(sync_id, 'sync_id')}")
        return parse_sync(body.get("data"), default_id=sync_id)

    def list_syncs_page(
        self,
        *,
        page_token: str | None = None,
        active: bool | None = None,
        mode: str | None = None,
        target_connection_id: str | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> tuple[list[Sync], str | None]:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        params: dict[str, str] = {"limit": str(min(limit, MAX_PAGE_SIZE))}
        if page_token:
            params["page_token"] = page_token
        if active is not None:
            params["active"] = bool_param(active)
        if mode:
            params["mode"] = mode
        if target_connection_id:
            params["target_connection_id"] = target_connection_id
        body = self._request("GET", "/api/syncs", params=params)
        items = body.get("data")
        syncs = [parse_sync(item) for item in items] if isinstance(items, list) else []
        # A list item without an ID cannot be acted on; drop it rather than invent one.
        return [s for s in syncs if s.id], next_page_token(body)

    def list_syncs(
        self,
        *,
        active: bool | None = None,
        mode: str | None = None,
        target_connection_id: str | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> Iterator[Sync]:
        """Every sync matching the filters, fetching pages lazily."""

        def page(token: str | None) -> tuple[list[Sync], str | None]:
            return self.list_syncs_page(
                page_token=token,
                active=active,
                mode=mode,
                target_connection_id=target_connection_id,
                limit=limit,
            )

        return paginate(page, "/api/syncs")

    def sync_status(self, sync_id: str) -> SyncStatus:
        body = self._request("GET", f"/api/syncs/{segment(sync_id, 'sync_id')}/status")
        return parse_sync_status(body.get("data"))

    def sync_and_status(self, sync_id: str) -> tuple[Sync, SyncStatus]:
        """The sync and its status, asked for at the same time: one round trip of waiting
        instead of two. A failed status read raises its error, else a failed sync read."""
        with self._fanout_lock:
            if self._fanout is None:
                self._fanout = ThreadPoolExecutor(FANOUT_THREADS, thread_name_prefix="polytomic")
            fanout = self._fanout
        sync = fanout.submit(self.get_sync, sync_id)
        try:
            status = self.sync_status(sync_id)
        except PolytomicError:
            sync.cancel()
            raise
        return sync.result(), status

    def set_active(self, sync_id: str, active: bool, *, idempotency_key: str) -> None:
        """Pause/resume the schedule. Pausing does NOT stop a run in progress."""
        self._request(
            "POST",
            f"/api/syncs/{segment(sync_id, 'sync_id')}/activate",
            json_body={"active": bool(active)},
            idempotency_key=idempotency_key,
        )

    # -- executions

    def get_execution(self, sync_id: str, execution_id: str) -> Execution:
        path = f"/api/syncs/{segment(sync_id, 'sync_id')}/executions/{segment(execution_id, 'execution_id')}"
        body = self._request("GET", path)
        return parse_execution(body.get("data"), default_id=execution_id)

    def list_executions_page(
        self,
        sync_id: str,
        *,
        page_token: str | None = None,
        only_completed: bool | None = None,
        ascending: bool | None = None,
    ) -> tuple[list[Execution], str | None]:
        params: dict[str, str] = {}
        if page_token:
            params["page_token"] = page_token
        if only_completed is not None:
            params["only_completed"] = bool_param(only_completed)
        if ascending is not None:
            params["ascending"] = bool_param(ascending)
        body = self._request("GET", f"/api/syncs/{segment(sync_id, 'sync_id')}/executions", params=params)
        items = body.get("data")
        executions = [parse_execution(i) for i in items] if isinstance(items, list) else []
        return executions, next_page_token(body)

    def list_executions(
        self,
        sync_id: str,
        *,
        only_completed: bool | None = None,
        ascending: bool | None = None,
    ) -> Iterator[Execution]:
        """Every execution (newest first unless ascending), fetching pages lazily: stop early."""

        def page(token: str | None) -> tuple[list[Execution], str | None]:
            return self.list_executions_page(
                sync_id, page_token=token, only_completed=only_completed, ascending=ascending
            )

        return paginate(page, "/api/syncs/{id}/executions")

    def start_sync(self, sync_id: str, *, idempotency_key: str, resync: bool = False) -> Execution:
        """Start a run; Conflict (409) when one is already running."""
        payload: dict[str, Any] = {"resync": True} if resync else {}
        body = self._request(
            "POST",
            f"/api/syncs/{segment(sync_id, 'sync_id')}/executions",
            json_body=payload,
            idempotency_key=idempotency_key,
        )
        return parse_execution(body.get("data"))

    def cancel_sync(self, sync_id: str, *, idempotency_key: str) -> str:
        """Ask Polytomic to cancel whatever run the sync has now. Asynchronous: poll the
        status until terminal. Prefer cancel_execution: this may hit a newer run."""
        body = self._request(
            "POST",
            f"/api/syncs/{segment(sync_id, 'sync_id')}/cancel",
            idempotency_key=idempotency_key,
        )
        return parse_message(body.get("data"))

    def cancel_execution(self, sync_id: str, execution_id: str, *, idempotency_key: str) -> str:
        """Ask Polytomic to cancel exactly this run. Asynchronous: poll until terminal."""
        path = (
            f"/api/syncs/{segment(sync_id, 'sync_id')}"
            f"/executions/{segment(execution_id, 'execution_id')}/cancel"
        )
        body = self._request("POST", path, idempotency_key=idempotency_key)
        return parse_message(body.get("data"))

    # -- connections

    def list_connections(self) -> list[Connection]:
        """Every connection of the organization (one request: the API does not page it)."""
        items = self._request("GET", "/api/connections").get("data")
        connections = [parse_connection(i) for i in items] if isinstance(items, list) else []
        return [c for c in connections if c.id]

    def get_connection(self, connection_id: str) -> Connection:
        body = self._request("GET", f"/api/connections/{segment(connection_id, 'connection_id')}")
        return parse_connection(body.get("data"), default_id=connection_id)

    def resolve_connection(self, query: str) -> Connection:
        """The connection whose ID, else whose name (ignoring case), is `query`: one listing.
        UnknownConnection / AmbiguousConnection (models.py) when it cannot be told apart."""
        return find_connection(self.list_connections(), query)

    # -- events

    def list_events(
        self,
        *,
        type: str | None = None,
        starting_after: datetime | None = None,
        ending_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """One page of GET /api/events: events created strictly after `starting_after` and
        strictly before `ending_before`, at most `limit` (1-100; Polytomic's default is 10).
        The sort order is undocumented and there is no cursor: read_events pages for you."""
        params: dict[str, str] = {}
        if type:
            params["type"] = type
        if starting_after is not None:
            params["starting_after"] = _rfc3339(starting_after, "starting_after")
        if ending_before is not None:
            params["ending_before"] = _rfc3339(ending_before, "ending_before")
        if limit is not None:
            if not 1 <= limit <= MAX_EVENTS_LIMIT:
                raise ValueError(f"limit must be 1-{MAX_EVENTS_LIMIT}")
            params["limit"] = str(limit)
        return parse_events(self._request("GET", "/api/events", params=params).get("data"))

    def read_events(
        self,
        starting_after: datetime | None,
        ending_before: datetime | None = None,
        *,
        type: str | None = None,
        max_requests: int = 50,
    ) -> EventWindow:
        """Every event of a time window, in pages of 100, whatever order Polytomic sorts in
        (events.read_window). At most `max_requests` requests: see EventWindow.complete."""

        def fetch(after: datetime | None, before: datetime | None, limit: int) -> list[Event]:
            return self.list_events(type=type, starting_after=after, ending_before=before, limit=limit)

        return read_window(fetch, starting_after, ending_before, max_requests=max_requests)

    def event_types(self) -> list[str]:
        """GET /api/events_types: the type identifiers this deployment emits."""
        items = self._request("GET", "/api/events_types").get("data")
        return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []

    # -- the webhook (one per organization)

    def list_webhooks(self) -> list[Webhook]:
        items = self._request("GET", "/api/webhooks").get("data")
        hooks = [parse_webhook(i) for i in items] if isinstance(items, list) else []
        return [h for h in hooks if h.id]

    def get_webhook(self, webhook_id: str) -> Webhook:
        body = self._request("GET", f"/api/webhooks/{segment(webhook_id, 'webhook_id')}")
        return parse_webhook(body.get("data"), default_id=webhook_id)

    def create_webhook(self, endpoint: str, secret: str, *, idempotency_key: str | None = None) -> Webhook:
        """Register the organization's webhook. Polytomic allows one: when there is one
        already, update it instead (list_webhooks finds it)."""
        payload = _webhook_body(endpoint, secret)
        body = self._request(
            "POST",
            "/api/webhooks",
            json_body=payload,
            idempotency_key=idempotency_key or _fresh_key("webhook-create"),
            also_redact=(secret,),
        )
        return parse_webhook(body.get("data"))

    def update_webhook(
        self, webhook_id: str, endpoint: str, secret: str, *, idempotency_key: str | None = None
    ) -> Webhook:
        """Point the webhook at `endpoint`, signed with `secret` (both are required)."""
        payload = _webhook_body(endpoint, secret)
        body = self._request(
            "PUT",
            f"/api/webhooks/{segment(webhook_id, 'webhook_id')}",
            json_body=payload,
            idempotency_key=idempotency_key or _fresh_key("webhook-update"),
            also_redact=(secret,),
        )
        return parse_webhook(body.get("data"), default_id=webhook_id)

    def delete_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> None:
        self._request(
            "DELETE",
            f"/api/webhooks/{segment(webhook_id, 'webhook_id')}",
            idempotency_key=idempotency_key or _fresh_key("webhook-delete"),
        )

    def disable_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> Webhook:
        """Stop deliveries without deleting the webhook. Events meanwhile are not queued."""
        return self._webhook_action(webhook_id, "disable", idempotency_key)

    def enable_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> Webhook:
        return self._webhook_action(webhook_id, "enable", idempotency_key)

    def _webhook_action(self, webhook_id: str, action: str, idempotency_key: str | None) -> Webhook:
        body = self._request(
            "POST",
            f"/api/webhooks/{segment(webhook_id, 'webhook_id')}/{action}",
            idempotency_key=idempotency_key or _fresh_key(f"webhook-{action}"),
        )
        return parse_webhook(body.get("data"), default_id=webhook_id)

    # -- identity

    def me(self) -> Identity:
        """Who the key belongs to: a cheap credentials check."""
        return parse_identity(self._request("GET", "/api/me").get("data"))

    # -- transport

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
        headers: dict[str, str] = {}
        if method != "GET":
            # Polytomic replays the first answer for a repeated key, which is what makes
            # retrying a POST (and a duplicated Slack click) safe.
            if idempotency_key is None:
                raise ValueError("POST requests need an idempotency_key")
            headers["Idempotency-Key"] = validate_idempotency_key(idempotency_key)
        attempt = 0
        while True:
            started = time.monotonic()
            status: int | None = None
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    json=json_body,
                    headers=headers,
                )
                status = response.status_code
            except httpx.TransportError as exc:  # timeouts included
                error: PolytomicError = from_transport(exc, timeout=self.timeout, method=method, path=path)
            else:
                if 200 <= response.status_code < 300:
                    self._log(method, path, status, started, attempt, logging.DEBUG)
                    return self._json(response, method, path, also_redact)
                error = from_response(response, method=method, path=path, redact=self._redactor(also_redact))
            self._log(method, path, status, started, attempt, logging.INFO)
            if self._on_error is not None:
                self._on_error(error)

            delay = self._retry_delay(error, method, attempt)
            if delay is None:
                raise error
            logger.debug("polytomic %s %s: retrying in %.2fs", method, path, delay)
            self._sleep(delay)
            attempt += 1

    def _retry_delay(self, error: PolytomicError, method: str, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up with `error`."""
        if attempt >= self.max_retries:
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
        self, response: httpx.Response, method: str, path: str, also_redact: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not response.content.strip():
            return {}
        try:
            body: object = response.json()
        except ValueError:
            raise PolytomicError(
                self._redactor(also_redact)(f"answer is not JSON: {error_text(response.text)}"),
                status=response.status_code,
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


# --------------------------------------------------------------------------- request helpers


def _rfc3339(when: datetime, what: str) -> str:
    """An aware datetime as RFC 3339 UTC with microseconds, the precision the filters need."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _webhook_body(endpoint: str, secret: str) -> dict[str, str]:
    """Checked before anything is sent; the errors never echo the secret."""
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise ValueError("the webhook endpoint must be an http(s) URL")
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        raise ValueError("the webhook endpoint must not contain whitespace or control characters")
    low, high = WEBHOOK_SECRET_LENGTH
    if not isinstance(secret, str) or not low <= len(secret) <= high:
        raise ValueError(f"the webhook secret must be {low}-{high} characters")
    return {"endpoint": endpoint, "secret": secret}


def _fresh_key(what: str) -> str:
    # One key per call: the client's own retries of that call replay instead of acting twice.
    return f"{what}-{secrets.token_hex(12)}"
