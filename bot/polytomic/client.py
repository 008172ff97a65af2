"""The one Polytomic API client: model syncs, their executions, cancellation.

Contract: /work/shared/polytomic/API.md. Every answer is parsed tolerantly (any field may be
missing or null) because Polytomic's own SDK models mark every field optional, and a chatops
bot must keep working when a self-hosted deployment answers an older shape.
"""

from __future__ import annotations

import base64
import enum
import importlib.metadata
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

import httpx

__all__ = [
    "DEFAULT_API_VERSION",
    "MAX_PAGE_SIZE",
    "USER_AGENT",
    "Conflict",
    "Execution",
    "ExecutionCounts",
    "ExecutionStatus",
    "Forbidden",
    "Identity",
    "NotFound",
    "Phase",
    "PolytomicClient",
    "PolytomicError",
    "RateLimited",
    "Sync",
    "SyncStatus",
    "Unauthorized",
    "Unavailable",
    "parse_execution",
    "parse_sync",
    "parse_sync_status",
    "parse_timestamp",
    "validate_idempotency_key",
]

logger = logging.getLogger("bot.polytomic")
_T = TypeVar("_T")
FANOUT_THREADS = 32  # requests sync_and_status() sends alongside its caller's, at most

DEFAULT_API_VERSION: Final = "2025-09-18"
MAX_PAGE_SIZE: Final = 50  # the API caps `limit` at 50
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,255}")
_ERROR_TEXT_LIMIT: Final = 200
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _package_version() -> str:
    try:
        return importlib.metadata.version("polytomic-bot")
    except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
        return "0"


USER_AGENT: Final = f"polytomic-bot/{_package_version()}"


# --------------------------------------------------------------------------- errors


class PolytomicError(Exception):
    """A failed Polytomic call. `message` is Polytomic's own text when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        key: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.key = key
        self.method = method
        self.path = path
        where = f"{method} {path}" if method and path else None
        context = ", ".join(c for c in (f"HTTP {status}" if status else None, where) if c)
        super().__init__(f"{message} ({context})" if context else message)


class NotFound(PolytomicError):
    """404: unknown sync or execution (or not visible to this key)."""


class Unauthorized(PolytomicError):
    """401: the key is wrong, revoked or expired."""


class Forbidden(PolytomicError):
    """403: the key is valid but lacks permission."""


class Conflict(PolytomicError):
    """409: a run is already going (start), or a concurrent request reused the Idempotency-Key."""


class RateLimited(PolytomicError):
    """429. `retry_after` is Polytomic's Retry-After in seconds, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        key: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, key=key, method=method, path=path)
        self.retry_after = retry_after


class Unavailable(PolytomicError):
    """5xx, a timeout or a connection failure: Polytomic could not be reached or answer."""


_ERROR_CLASSES: Final[Mapping[int, type[PolytomicError]]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


# --------------------------------------------------------------------------- results


class Phase(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    CANCELING = "canceling"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


_PHASES: Final[Mapping[str, Phase]] = {
    "created": Phase.PENDING,
    "scheduled": Phase.PENDING,
    "queued": Phase.PENDING,
    "waiting": Phase.PENDING,
    "running": Phase.RUNNING,
    "processing": Phase.RUNNING,
    "canceling": Phase.CANCELING,
    "canceled": Phase.TERMINAL,
    "completed": Phase.TERMINAL,
    "failed": Phase.TERMINAL,
    # Undocumented, but seen in the SDK's enum: a run killed by the platform.
    "interrupted": Phase.TERMINAL,
}


@dataclass(frozen=True)
class ExecutionStatus:
    """The raw status string plus its classification; unknown values count as still active
    so that a new status Polytomic adds can never make the bot report a run as finished."""

    value: str

    @classmethod
    def parse(cls, raw: object) -> ExecutionStatus:
        if raw is None:
            return cls("")
        return cls(raw.strip() if isinstance(raw, str) else str(raw))

    @property
    def phase(self) -> Phase:
        return _PHASES.get(self.value.lower(), Phase.UNKNOWN)

    @property
    def is_terminal(self) -> bool:
        return self.phase is Phase.TERMINAL

    @property
    def is_active(self) -> bool:
        return not self.is_terminal

    def __str__(self) -> str:
        return self.value or "unknown"


@dataclass(frozen=True)
class ExecutionCounts:
    insert: int | None = None
    update: int | None = None
    delete: int | None = None
    upserts: int | None = None
    error: int | None = None
    warnings: int | None = None
    total: int | None = None

    @property
    def rows_written(self) -> int | None:
        """Rows changed in the destination; `total` only when no per-kind count was sent."""
        parts = (self.insert, self.update, self.delete, self.upserts)
        if all(p is None for p in parts):
            return self.total
        return sum(p or 0 for p in parts)


@dataclass(frozen=True)
class Execution:
    id: str | None
    status: ExecutionStatus
    type: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    counts: ExecutionCounts = field(default_factory=ExecutionCounts)
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sync:
    id: str
    name: str | None = None
    active: bool | None = None
    mode: str | None = None
    target_connection_id: str | None = None
    target_object: str | None = None
    schedule_frequency: str | None = None


@dataclass(frozen=True)
class SyncStatus:
    current_execution: Execution | None
    last_execution: Execution | None
    next_execution_time: datetime | None

    @property
    def is_running(self) -> bool:
        return self.current_execution is not None and self.current_execution.status.is_active


@dataclass(frozen=True)
class Identity:
    """GET /api/me. `user_id`/`email`/`role` are only set for user keys; the `is_*` flags say
    which kind of key this is (organization, partner, system)."""

    organization_id: str | None = None
    organization_name: str | None = None
    user_id: str | None = None
    email: str | None = None
    role: str | None = None
    is_user: bool | None = None
    is_organization: bool | None = None
    is_partner: bool | None = None
    is_system: bool | None = None


# --------------------------------------------------------------------------- tolerant parsing


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def parse_timestamp(value: object) -> datetime | None:
    """RFC 3339 -> aware UTC datetime; anything unparseable -> None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    # Go's zero time ("0001-01-01T00:00:00Z") means "not set", not the year 1.
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _errors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    out: list[str] = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("message"), str):
            out.append(item["message"])
        elif item is not None:
            out.append(str(item))
    return tuple(out)


def _counts(value: object) -> ExecutionCounts:
    raw = _dict(value)
    return ExecutionCounts(
        insert=_int(raw.get("insert")),
        update=_int(raw.get("update")),
        delete=_int(raw.get("delete")),
        upserts=_int(raw.get("upserts")),
        error=_int(raw.get("error")),
        warnings=_int(raw.get("warnings")),
        total=_int(raw.get("total")),
    )


def parse_execution(value: object, *, default_id: str | None = None) -> Execution:
    raw = _dict(value)
    return Execution(
        id=_str(raw.get("id")) or default_id,
        status=ExecutionStatus.parse(raw.get("status")),
        type=_str(raw.get("type")),
        created_at=parse_timestamp(raw.get("created_at")),
        started_at=parse_timestamp(raw.get("started_at")),
        completed_at=parse_timestamp(raw.get("completed_at")),
        counts=_counts(raw.get("counts")),
        errors=_errors(raw.get("errors")),
    )


def _optional_execution(value: object) -> Execution | None:
    # An empty object is what some serializers send for "no execution".
    return parse_execution(value) if isinstance(value, dict) and value else None


def parse_sync(value: object, *, default_id: str = "") -> Sync:
    """Both shapes: get-sync nests `target{connection_id, object}`, list items are flat."""
    raw = _dict(value)
    target = _dict(raw.get("target"))
    return Sync(
        id=_str(raw.get("id")) or default_id,
        name=_str(raw.get("name")),
        active=_bool(raw.get("active")),
        mode=_str(raw.get("mode")),
        target_connection_id=_str(target.get("connection_id")) or _str(raw.get("target_connection_id")),
        target_object=_str(target.get("object")) or _str(raw.get("target_object")),
        schedule_frequency=_str(_dict(raw.get("schedule")).get("frequency")),
    )


def parse_sync_status(value: object) -> SyncStatus:
    raw = _dict(value)
    return SyncStatus(
        current_execution=_optional_execution(raw.get("current_execution")),
        last_execution=_optional_execution(raw.get("last_execution")),
        next_execution_time=parse_timestamp(raw.get("next_execution_time")),
    )


def _parse_identity(value: object) -> Identity:
    raw = _dict(value)
    return Identity(
        organization_id=_str(raw.get("organization_id")),
        organization_name=_str(raw.get("organization_name")),
        user_id=_str(raw.get("id")),
        email=_str(raw.get("email")),
        role=_str(raw.get("role")),
        is_user=_bool(raw.get("is_user")),
        is_organization=_bool(raw.get("is_organization")),
        is_partner=_bool(raw.get("is_partner")),
        is_system=_bool(raw.get("is_system")),
    )


def _next_token(body: Mapping[str, Any]) -> str | None:
    token = _str(_dict(body.get("pagination")).get("next_page_token"))
    return token or None


# --------------------------------------------------------------------------- request helpers


def validate_idempotency_key(key: str) -> str:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency key must be 8-255 characters of A-Z, a-z, 0-9, '_' or '-'")
    return key


def _segment(value: str, what: str) -> str:
    """Quote an ID for use as ONE path segment: '/', '?', '#' and '%' cannot escape it."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    # httpx resolves dot segments, so '..' would climb out even though it needs no quoting.
    if value in (".", ".."):
        raise ValueError(f"{what} must not be '.' or '..'")
    return quote(value, safe="")


def _bool_param(value: bool) -> str:
    return "true" if value else "false"


def _short_text(text: str) -> str:
    text = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    if len(text) > _ERROR_TEXT_LIMIT:
        return text[: _ERROR_TEXT_LIMIT - 1] + "…"
    return text


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date; either way -> seconds from now (>= 0)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """Polytomic's message (and key) from the documented body, the older
    `{"error": {"message"}}` body, or a non-JSON body; falls back to the reason phrase."""
    text = response.text
    try:
        body: object = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
        short = _short_text(text)
        if short:
            return short, None
    if isinstance(body, dict):
        key = _str(body.get("key"))
        message = _str(body.get("message"))
        error = body.get("error")
        if not message and isinstance(error, dict):
            message = _str(error.get("message"))
            key = key or _str(error.get("key"))
        elif not message and isinstance(error, str):
            message = error
        if message:
            return _short_text(message) if len(message) > _ERROR_TEXT_LIMIT else message, key
        return response.reason_phrase or f"HTTP {response.status_code}", key
    if isinstance(body, str) and body:
        return _short_text(body), None
    return response.reason_phrase or f"HTTP {response.status_code}", None


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
            self._secrets: tuple[_Secret, ...] = (_Secret(api_key),)
        else:
            assert deployment_key is not None and organization_id is not None
            self._auth_kind = "basic"
            token = base64.b64encode(f"{organization_id}:{deployment_key}".encode()).decode()
            header = f"Basic {token}"
            self._secrets = (_Secret(deployment_key), _Secret(token))
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
            auth=_HeaderAuth(header),
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
        body = self._request("GET", f"/api/syncs/{_segment(sync_id, 'sync_id')}")
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
            params["active"] = _bool_param(active)
        if mode:
            params["mode"] = mode
        if target_connection_id:
            params["target_connection_id"] = target_connection_id
        body = self._request("GET", "/api/syncs", params=params)
        items = body.get("data")
        syncs = [parse_sync(item) for item in items] if isinstance(items, list) else []
        # A list item without an ID cannot be acted on; drop it rather than invent one.
        return [s for s in syncs if s.id], _next_token(body)

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

        return _paginate(page, "/api/syncs")

    def sync_status(self, sync_id: str) -> SyncStatus:
        body = self._request("GET", f"/api/syncs/{_segment(sync_id, 'sync_id')}/status")
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
            f"/api/syncs/{_segment(sync_id, 'sync_id')}/activate",
            json_body={"active": bool(active)},
            idempotency_key=idempotency_key,
        )

    # -- executions

    def get_execution(self, sync_id: str, execution_id: str) -> Execution:
        path = (
            f"/api/syncs/{_segment(sync_id, 'sync_id')}/executions/{_segment(execution_id, 'execution_id')}"
        )
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
            params["only_completed"] = _bool_param(only_completed)
        if ascending is not None:
            params["ascending"] = _bool_param(ascending)
        body = self._request("GET", f"/api/syncs/{_segment(sync_id, 'sync_id')}/executions", params=params)
        items = body.get("data")
        executions = [parse_execution(i) for i in items] if isinstance(items, list) else []
        return executions, _next_token(body)

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

        return _paginate(page, "/api/syncs/{id}/executions")

    def start_sync(self, sync_id: str, *, idempotency_key: str, resync: bool = False) -> Execution:
        """Start a run; Conflict (409) when one is already running."""
        payload: dict[str, Any] = {"resync": True} if resync else {}
        body = self._request(
            "POST",
            f"/api/syncs/{_segment(sync_id, 'sync_id')}/executions",
            json_body=payload,
            idempotency_key=idempotency_key,
        )
        return parse_execution(body.get("data"))

    def cancel_sync(self, sync_id: str, *, idempotency_key: str) -> str:
        """Ask Polytomic to cancel whatever run the sync has now. Asynchronous: poll the
        status until terminal. Prefer cancel_execution: this may hit a newer run."""
        body = self._request(
            "POST",
            f"/api/syncs/{_segment(sync_id, 'sync_id')}/cancel",
            idempotency_key=idempotency_key,
        )
        return _str(_dict(body.get("data")).get("message")) or ""

    def cancel_execution(self, sync_id: str, execution_id: str, *, idempotency_key: str) -> str:
        """Ask Polytomic to cancel exactly this run. Asynchronous: poll until terminal."""
        path = (
            f"/api/syncs/{_segment(sync_id, 'sync_id')}"
            f"/executions/{_segment(execution_id, 'execution_id')}/cancel"
        )
        body = self._request("POST", path, idempotency_key=idempotency_key)
        return _str(_dict(body.get("data")).get("message")) or ""

    # -- identity

    def me(self) -> Identity:
        """Who the key belongs to: a cheap credentials check."""
        return _parse_identity(self._request("GET", "/api/me").get("data"))

    # -- transport

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
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
            except httpx.TimeoutException as exc:
                error: PolytomicError = Unavailable(
                    f"Polytomic did not answer within {self.timeout:g}s ({type(exc).__name__})",
                    method=method,
                    path=path,
                )
            except httpx.TransportError as exc:
                error = Unavailable(
                    f"could not reach Polytomic ({type(exc).__name__})", method=method, path=path
                )
            else:
                if 200 <= response.status_code < 300:
                    self._log(method, path, status, started, attempt, logging.DEBUG)
                    return self._json(response, method, path)
                error = self._error(response, method, path)
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

    def _error(self, response: httpx.Response, method: str, path: str) -> PolytomicError:
        message, key = _error_message(response)
        if response.is_redirect:
            # Usually a wrong POLYTOMIC_DEPLOYMENT_URL (e.g. http:// answered by a redirect).
            message = f"unexpected redirect to {response.headers.get('Location', '?')}; check the base URL"
        message = self._redact(message)
        key = self._redact(key) if key else None
        status = response.status_code
        if status == 429:
            return RateLimited(
                message,
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                key=key,
                method=method,
                path=path,
            )
        if status >= 500:
            return Unavailable(message, status=status, key=key, method=method, path=path)
        cls = _ERROR_CLASSES.get(status, PolytomicError)
        return cls(message, status=status, key=key, method=method, path=path)

    def _json(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        if not response.content.strip():
            return {}
        try:
            body: object = response.json()
        except ValueError:
            raise PolytomicError(
                self._redact(f"answer is not JSON: {_short_text(response.text)}"),
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


def error_kind(error: PolytomicError) -> str:
    """A short label for metrics: not_found, unauthorized, rate_limited, unavailable, …"""
    if type(error) is PolytomicError:
        return "error"
    name = type(error).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class _Secret:
    """Holds a credential; its repr/str never show it (vars() dumps, debuggers, logs)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class _HeaderAuth(httpx.Auth):
    """Sets Authorization per request, so the key sits in no default-header dict and
    no repr shows it."""

    def __init__(self, header: str) -> None:
        self._header = _Secret(header)

    def __repr__(self) -> str:
        return "_HeaderAuth(<redacted>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header.value
        yield request


def _paginate(page: Callable[[str | None], tuple[list[_T], str | None]], what: str) -> Iterator[_T]:
    token: str | None = None
    seen: set[str] = set()
    while True:
        items, token = page(token)
        yield from items
        if not token:
            return
        if token in seen:
            # A server bug must not turn a listing into an endless loop.
            logger.warning("polytomic %s: page token repeated; stopping pagination", what)
            return
        seen.add(token)
