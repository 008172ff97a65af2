"""bot.polytomic's error hierarchy: which answer or transport failure becomes which class, what
`retry_after` each transient error carries, and the labels metrics see. Pure: httpx.Response
and httpx's exceptions are built in memory, nothing is sent."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

import bot.polytomic
from bot.polytomic import (
    ERROR_KINDS,
    MAX_RETRY_AFTER,
    BadRequest,
    ClientError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    ServerError,
    TimedOut,
    Transient,
    Unauthorized,
    Unavailable,
    error_kind,
    for_status,
    from_response,
    from_transport,
)
from bot.polytomic import client as client_module
from bot.polytomic import errors as errors_module
from bot.polytomic import models as models_module
from bot.polytomic import transport as transport_module

ERROR_CLASSES = [
    obj for obj in vars(errors_module).values() if inspect.isclass(obj) and issubclass(obj, PolytomicError)
]
TRANSIENT = {RateLimited, Unavailable, TimedOut, ConnectionFailed, ServerError, Transient}
REQUEST = httpx.Request("GET", "https://polytomic.example/api/me")


def response(status: int, *, headers: dict[str, str] | None = None, body: bytes = b"") -> httpx.Response:
    return httpx.Response(status, headers=headers, content=body, request=REQUEST)


def answer(status: int, *, headers: dict[str, str] | None = None, body: bytes = b"") -> PolytomicError:
    """What the client raises for this answer to GET /api/me."""
    return from_response(
        response(status, headers=headers, body=body), method="GET", path="/api/me", redact=str
    )


# ----------------------------------------------------------------- which class


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (402, BadRequest),
        (403, Forbidden),
        (404, NotFound),
        (405, BadRequest),
        (409, Conflict),
        (410, BadRequest),
        (413, BadRequest),
        (422, BadRequest),
        (429, RateLimited),
        (451, BadRequest),
        (499, BadRequest),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (301, PolytomicError),
        (302, PolytomicError),
        (304, PolytomicError),
        (100, PolytomicError),
    ],
)
def test_each_status_has_its_class_and_keeps_the_status(status: int, cls: type[PolytomicError]) -> None:
    made = for_status(status, "no", method="POST", path="/x")
    assert type(made) is cls
    assert (made.status, made.message, made.method, made.path) == (status, "no", "POST", "/x")
    read = answer(status)
    assert type(read) is cls
    assert (read.status, read.method, read.path) == (status, "GET", "/api/me")


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout],
)
def test_every_timeout_is_timed_out(failure: type[httpx.TransportError]) -> None:
    error = from_transport(failure("slow", request=REQUEST), timeout=2.5, method="GET", path="/api/me")
    assert type(error) is TimedOut
    assert error.reason == failure.__name__
    assert error.message == f"Polytomic did not answer within 2.5s ({failure.__name__})"
    assert error.status is None and error.retry_after is None
    assert str(error) == f"{error.message} (GET /api/me)"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError,  # refused, or the name did not resolve
        httpx.ReadError,  # reset while reading
        httpx.WriteError,
        httpx.CloseError,
        httpx.RemoteProtocolError,  # closed without an answer, or not HTTP
        httpx.LocalProtocolError,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
    ],
)
def test_every_other_transport_failure_is_connection_failed(failure: type[httpx.TransportError]) -> None:
    error = from_transport(failure("gone", request=REQUEST), timeout=2.5, method="POST", path="/api/x")
    assert type(error) is ConnectionFailed
    assert error.reason == failure.__name__
    assert error.message == f"could not reach Polytomic ({failure.__name__})"
    assert error.status is None and error.retry_after is None


def test_a_redirect_says_to_check_the_base_url_and_is_permanent() -> None:
    error = answer(301, headers={"Location": "https://elsewhere.example/api/me"})
    assert type(error) is PolytomicError and not error.transient
    assert error.message == "unexpected redirect to https://elsewhere.example/api/me; check the base URL"


def test_message_and_key_are_redacted() -> None:
    body = b'{"message": "bad key sekrit", "key": "sekrit"}'
    error = from_response(
        response(401, body=body), method="GET", path="/api/me", redact=lambda s: s.replace("sekrit", "[r]")
    )
    assert (error.message, error.key) == ("bad key [r]", "[r]")


# ----------------------------------------------------------------- retry_after


def test_rate_limited_carries_retry_after_seconds_or_date() -> None:
    assert answer(429, headers={"Retry-After": "7"}).retry_after == 7.0
    assert answer(429, headers={"Retry-After": "1.5"}).retry_after == 1.5
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    dated = answer(429, headers={"Retry-After": when}).retry_after
    assert dated is not None and 28.0 <= dated <= 30.0  # HTTP dates have 1 s resolution
    assert answer(429).retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_carries_retry_after_when_sent(status: int) -> None:
    error = answer(status, headers={"Retry-After": "12"})
    assert isinstance(error, ServerError) and error.retry_after == 12.0
    assert answer(status).retry_after is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("86400", MAX_RETRY_AFTER),  # a day: clamped
        (str(MAX_RETRY_AFTER + 1), MAX_RETRY_AFTER),
        (str(MAX_RETRY_AFTER), MAX_RETRY_AFTER),
        ("120", 120.0),
        ("-5", 0.0),
        ("0", 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: ask again now
    ],
)
def test_retry_after_is_clamped_to_something_sane(header: str, expected: float | None) -> None:
    for status in (429, 503):
        assert answer(status, headers={"Retry-After": header}).retry_after == expected


def test_the_clamp_holds_however_the_error_is_made() -> None:
    assert RateLimited("x", retry_after=1e9).retry_after == MAX_RETRY_AFTER
    assert ServerError("x", status=503, retry_after=-1).retry_after == 0.0
    assert Unavailable("x", retry_after=float("nan")).retry_after is None
    assert TimedOut("x").retry_after is None


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 409, 422])
def test_permanent_errors_never_carry_retry_after(status: int) -> None:
    error = answer(status, headers={"Retry-After": "5"})
    assert not error.transient
    assert error.retry_after is None


# ----------------------------------------------------------------- the hierarchy


def test_every_unavailable_is_an_unavailable_a_transient_and_a_polytomic_error() -> None:
    for cls in (TimedOut, ConnectionFailed, ServerError):
        error = cls("x", status=503 if cls is ServerError else None)
        assert isinstance(error, Unavailable)
        assert isinstance(error, Transient)
        assert isinstance(error, PolytomicError)
        assert not isinstance(error, ClientError | RateLimited)
    assert issubclass(RateLimited, Transient) and not issubclass(RateLimited, Unavailable | ClientError)


def test_client_errors_are_client_errors_and_nothing_transient() -> None:
    for cls in (Unauthorized, Forbidden, NotFound, Conflict, BadRequest):
        assert issubclass(cls, ClientError) and issubclass(cls, PolytomicError)
        assert not issubclass(cls, Transient)


def test_transient_says_so_on_every_class() -> None:
    assert {cls for cls in ERROR_CLASSES if cls.transient} == TRANSIENT
    for cls in ERROR_CLASSES:
        assert cls.transient is issubclass(cls, Transient), cls
        if not cls.transient:
            assert cls("x").retry_after is None, cls


def test_the_old_constructors_still_work() -> None:
    # Callers (and tests) build errors by hand as before the split.
    assert Unavailable("timeout").status is None and Unavailable("timeout").reason is None
    assert Unavailable("down", status=503).status == 503
    assert RateLimited("slow down").status == 429
    assert str(NotFound("no such sync", status=404, method="GET", path="/api/syncs/x")) == (
        "no such sync (HTTP 404, GET /api/syncs/x)"
    )


# ----------------------------------------------------------------- metrics labels


@pytest.mark.parametrize(
    ("error", "label"),
    [
        (PolytomicError("x"), "error"),
        (BadRequest("x", status=400), "error"),
        (ClientError("x", status=418), "error"),
        (Unauthorized("x"), "unauthorized"),
        (Forbidden("x"), "forbidden"),
        (NotFound("x"), "not_found"),
        (Conflict("x"), "conflict"),
        (RateLimited("x"), "rate_limited"),
        (Unavailable("x"), "unavailable"),
        (TimedOut("x"), "unavailable"),
        (ConnectionFailed("x"), "unavailable"),
        (ServerError("x", status=500), "unavailable"),
    ],
)
def test_error_kind_keeps_the_labels_metrics_had(error: PolytomicError, label: str) -> None:
    # The same labels as before the split: dashboards and alerts on them keep working.
    assert error_kind(error) == label


def test_every_class_maps_into_the_fixed_set_of_labels() -> None:
    assert {cls.kind for cls in ERROR_CLASSES} == set(ERROR_KINDS)


# ----------------------------------------------------------------- the package


def test_the_package_re_exports_every_public_name_of_its_modules() -> None:
    for module in (client_module, errors_module, models_module, transport_module):
        assert module.__doc__, module.__name__
        for name in module.__all__:
            assert getattr(bot.polytomic, name) is getattr(module, name), f"{module.__name__}.{name}"
            assert name in bot.polytomic.__all__, name
    for name in bot.polytomic.__all__:
        assert hasattr(bot.polytomic, name), name
