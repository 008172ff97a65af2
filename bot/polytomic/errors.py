"""Every way a Polytomic call fails, as one hierarchy, and the one mapping onto it.

Our exception hierarchy (drawn as httpx draws its own, in httpx/_exceptions.py):

* PolytomicError          a failed call; raised as is for a redirect or a 2xx that is not JSON
  x ClientError           4xx: Polytomic refused the request as sent; asking again cannot help
    + Unauthorized        401: the key is wrong, revoked or expired
    + Forbidden           403: the key is valid but lacks permission
    + NotFound            404: unknown sync or execution (or not visible to this key)
    + Conflict            409: a run is already going, or a concurrent duplicate of a POST
    + BadRequest          400, 422 and every other 4xx without a class of its own
  x Transient             may work later; carries `retry_after`
    + RateLimited         429
    + Unavailable         Polytomic could not be reached, or could not answer
      - TimedOut          no answer within the client's timeout
      - ConnectionFailed  refused, reset, DNS, a broken answer: no HTTP status at all
      - ServerError       5xx; keeps the status

One `except` per concern: `Transient` for "try again later", `Unavailable` for "Polytomic is
down", `ClientError` for "Polytomic said no". Code that must turn any error into a decision reads
two class attributes instead of listing classes: `transient` (False on everything outside
Transient), and `retry_after`, seconds to wait before asking again: the server's Retry-After when
it sent one, clamped to MAX_RETRY_AFTER; None means "use your own backoff" (always None on a
permanent error). `kind` is the error's label in metrics, one of a fixed set (ErrorKind), so a
new class can never add a label by accident.

`from_response` (through `for_status`) and `from_transport` pick the class for every failed
request; the client calls them, and raises the base class itself only for a 2xx that is not JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, Final, Literal, get_args

import httpx

from bot.polytomic.error_bodies import parse_error_body
from bot.polytomic.parsing import clean

__all__ = [
    "ERROR_KINDS",
    "MAX_RETRY_AFTER",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "ErrorKind",
    "Forbidden",
    "NotFound",
    "PolytomicError",
    "RateLimited",
    "ServerError",
    "TimedOut",
    "Transient",
    "Unauthorized",
    "Unavailable",
    "error_kind",
    "for_status",
    "from_response",
    "from_transport",
    "parse_retry_after",
]

ErrorKind = Literal[
    "error", "unauthorized", "forbidden", "not_found", "conflict", "rate_limited", "unavailable"
]
ERROR_KINDS: Final[tuple[ErrorKind, ...]] = get_args(ErrorKind)

# A longer Retry-After is likelier a misconfigured proxy than a plan, and asking again after ten
# minutes costs one request; an operation parked for a day would look hung to its requester.
MAX_RETRY_AFTER: Final = 600.0


class PolytomicError(Exception):
    """A failed Polytomic call. `message` is Polytomic's own text when it sent one, cleaned
    (parsing.clean) like every Polytomic string: it is kept on rows and shown in messages."""

    transient: ClassVar[bool] = False
    kind: ClassVar[ErrorKind] = "error"
    retry_after: float | None = None  # only a Transient error ever has one

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        key: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        message = clean(message)
        key = clean(key) if key is not None else None
        self.message = message
        self.status = status
        self.key = key
        self.method = method
        self.path = path
        where = f"{method} {path}" if method and path else None
        context = ", ".join(c for c in (f"HTTP {status}" if status else None, where) if c)
        super().__init__(f"{message} ({context})" if context else message)


# --------------------------------------------------------------------------- permanent: 4xx


class ClientError(PolytomicError):
    """4xx (but 429): Polytomic refused the request as it was sent; a retry gets the same answer."""


class Unauthorized(ClientError):
    """401: the key is wrong, revoked or expired."""

    kind = "unauthorized"


class Forbidden(ClientError):
    """403: the key is valid but lacks permission."""

    kind = "forbidden"


class NotFound(ClientError):
    """404: unknown sync or execution (or not visible to this key)."""

    kind = "not_found"


class Conflict(ClientError):
    """409: a run is already going (start), or a concurrent request reused the Idempotency-Key."""

    kind = "conflict"


class BadRequest(ClientError):
    """400, 422 or another 4xx without a class of its own: the request itself was wrong."""


# --------------------------------------------------------------------------- transient


class Transient(PolytomicError):
    """May work if asked again later. `retry_after`: seconds the server asked us to wait,
    clamped to [0, MAX_RETRY_AFTER]; None when it did not say (back off on your own)."""

    transient = True
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        key: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, key=key, method=method, path=path)
        if retry_after is not None and retry_after == retry_after:  # NaN is no answer either
            self.retry_after = min(max(0.0, float(retry_after)), MAX_RETRY_AFTER)
        else:
            self.retry_after = None


class RateLimited(Transient):
    """429. `retry_after` is Polytomic's Retry-After in seconds, when it sent one."""

    kind = "rate_limited"

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
        super().__init__(message, retry_after=retry_after, status=status, key=key, method=method, path=path)


class Unavailable(Transient):
    """Polytomic could not be reached or could not answer: one of the three below.
    `reason` names the transport failure (httpx's class name, e.g. ConnectError, ReadTimeout);
    None when Polytomic did answer (a 5xx)."""

    kind = "unavailable"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        key: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after, status=status, key=key, method=method, path=path)
        self.reason = reason


class TimedOut(Unavailable):
    """No answer within the client's timeout (connecting, sending or reading). `deadline`:
    the attempt's whole window was spent (a server that drips its answer, or never ends it),
    not one read that waited too long."""

    deadline: bool = False


class ConnectionFailed(Unavailable):
    """No HTTP answer at all: the connection was refused or reset, the name did not resolve,
    or what came back was not HTTP."""


class ServerError(Unavailable):
    """5xx: Polytomic (or a proxy in front of it) answered, but failed. `status` says which."""


# --------------------------------------------------------------------------- the mapping

_CLIENT_ERRORS: Final[Mapping[int, type[ClientError]]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def for_status(
    status: int,
    message: str,
    *,
    key: str | None = None,
    retry_after: float | None = None,
    method: str | None = None,
    path: str | None = None,
) -> PolytomicError:
    """The error for an HTTP status that is not a success. `retry_after` is kept only where
    it means something: on a 429 or a 5xx."""
    if status == 429:
        return RateLimited(message, retry_after=retry_after, key=key, method=method, path=path)
    if status >= 500:
        return ServerError(message, retry_after=retry_after, status=status, key=key, method=method, path=path)
    if 400 <= status < 500:
        cls = _CLIENT_ERRORS.get(status, BadRequest)
        return cls(message, status=status, key=key, method=method, path=path)
    return PolytomicError(message, status=status, key=key, method=method, path=path)


def from_response(
    response: httpx.Response,
    *,
    method: str,
    path: str,
    redact: Callable[[str], str],
    text: str | None = None,
) -> PolytomicError:
    """The error for an answer that is not a 2xx, with Polytomic's own message and key.
    `redact` removes credentials a misbehaving server or proxy may have echoed back. `text`:
    the body, when it was read as a stream (else the response's own text)."""
    status = response.status_code
    body = response.text if text is None else text
    message, key = parse_error_body(body, response.reason_phrase or f"HTTP {status}")
    if response.is_redirect:
        # Usually a wrong POLYTOMIC_DEPLOYMENT_URL (e.g. http:// answered by a redirect).
        message = f"unexpected redirect to {response.headers.get('Location', '?')}; check the base URL"
    return for_status(
        status,
        redact(message),
        key=redact(key) if key else None,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        method=method,
        path=path,
    )


def from_transport(error: httpx.TransportError, *, timeout: float, method: str, path: str) -> Unavailable:
    """The error for a request that got no HTTP answer."""
    reason = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return TimedOut(
            f"Polytomic did not answer within {timeout:g}s ({reason})",
            reason=reason,
            method=method,
            path=path,
        )
    return ConnectionFailed(f"could not reach Polytomic ({reason})", reason=reason, method=method, path=path)


def parse_retry_after(value: str | None) -> float | None:
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
    return min(max(0.0, seconds), MAX_RETRY_AFTER)  # 1e300 or inf: a broken proxy, not a plan


def error_kind(error: PolytomicError) -> ErrorKind:
    """A short label for metrics: not_found, unauthorized, rate_limited, unavailable, …"""
    return error.kind
