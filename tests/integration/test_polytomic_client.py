"""bot.polytomic.PolytomicClient against the fake Polytomic over real HTTP."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.fakes.polytomic import FakePolytomic, retry_after_date
from bot.polytomic import (
    USER_AGENT,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    Phase,
    PolytomicClient,
    PolytomicError,
    RateLimited,
    ServerError,
    TimedOut,
    Unauthorized,
    Unavailable,
)

KEY = "pk_live_SUPERSECRET_0123456789"
ORG = "7c1e2a40-77a1-4f4e-a3b1-0e8b2c3d4e5f"
DEPLOYMENT_KEY = "dk_SECRET_deployment_987654"


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic(KEY) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(fake: FakePolytomic, sleeps: list[float]) -> Iterator[Callable[..., PolytomicClient]]:
    clients: list[PolytomicClient] = []

    def make(**overrides: Any) -> PolytomicClient:
        options: dict[str, Any] = {"api_key": KEY, "timeout": 2.0, "sleep": sleeps.append, **overrides}
        client = PolytomicClient(fake.url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., PolytomicClient]) -> PolytomicClient:
    return make_client()


# ----------------------------------------------------------------- results


def test_each_result_type_is_parsed(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync(
        name="Contacts to Salesforce", mode="create", target_object="Lead", frequency="daily"
    )
    past = sync.add_past_execution("failed", ago=600, duration=30, rows=42, errors=["bad row"])
    run = sync.start_execution(rows_per_second=1000)

    got = client.get_sync(sync.id)
    assert (got.id, got.name, got.active, got.mode) == (sync.id, "Contacts to Salesforce", True, "create")
    assert (got.target_connection_id, got.target_object, got.schedule_frequency) == (
        sync.target_connection_id,
        "Lead",
        "daily",
    )
    listed, token = client.list_syncs_page()
    assert listed == [got]  # the flat list shape parses to the same Sync
    assert token is None

    status = client.sync_status(sync.id)
    assert status.is_running
    current = status.current_execution
    assert current is not None and current.id == run.id
    assert current.status.phase is Phase.RUNNING
    assert current.type == "scheduled"
    assert current.created_at is not None and current.created_at.tzinfo is UTC
    assert abs(current.created_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert current.completed_at is None
    assert status.last_execution is not None and status.last_execution.id == past.id
    assert status.last_execution.status.value == "failed"
    assert status.last_execution.errors == ("bad row",)
    assert status.last_execution.counts.rows_written == 42
    assert status.last_execution.completed_at is not None
    assert status.next_execution_time is not None and status.next_execution_time > datetime.now(UTC)

    execution = client.get_execution(sync.id, run.id)
    assert execution.id == run.id
    assert execution.counts.total is not None and execution.counts.total >= 0
    history, next_token = client.list_executions_page(sync.id)
    assert [e.id for e in history] == [run.id, past.id]
    assert next_token is None
    completed, _ = client.list_executions_page(sync.id, only_completed=True, ascending=True)
    assert [e.id for e in completed] == [past.id]
    assert [e.id for e in client.list_executions(sync.id)] == [run.id, past.id]

    identity = client.me()
    assert identity.organization_id == fake.organization_id
    assert identity.organization_name == "Fake Org"
    assert identity.email == fake.user_email
    assert identity.user_id == fake.user_id
    assert identity.is_user is True


def test_start_sync_set_active_and_conflict(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    started = client.start_sync(sync.id, idempotency_key="op-7-start-1")
    assert started.id is not None and started.status.is_active
    assert started.created_at is not None
    assert sync.current_execution is not None and sync.current_execution.id == started.id
    assert fake.requests[-1].json == {}

    with pytest.raises(Conflict) as excinfo:
        client.start_sync(sync.id, idempotency_key="op-8-start-1", resync=True)
    assert excinfo.value.status == 409
    assert excinfo.value.message == "sync is already running"
    assert fake.requests[-1].json == {"resync": True}
    assert len(fake.requests_to("POST", r"/executions$")) == 2  # the 409 was not retried
    assert sleeps == []

    client.set_active(sync.id, False, idempotency_key="op-9-pause-1")
    assert sync.active is False
    assert fake.requests[-1].json == {"active": False}
    assert sync.current_execution is not None  # pausing leaves the run alone


def test_every_request_carries_version_accept_user_agent_and_auth(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    sync = fake.add_sync()
    run = sync.start_execution(cancel_delay=None)
    client.get_sync(sync.id)
    client.sync_status(sync.id)
    client.cancel_execution(sync.id, run.id, idempotency_key="op-1-cancel-exec")
    client.cancel_sync(sync.id, idempotency_key="op-1-cancel-sync")
    client.set_active(sync.id, True, idempotency_key="op-1-activate")
    assert len(fake.requests) == 5
    for request in fake.requests:
        assert request.header("X-Polytomic-Version") == "2025-09-18"
        assert request.header("Accept") == "application/json"
        assert request.header("User-Agent") == USER_AGENT
        assert USER_AGENT.startswith("polytomic-bot/")
        assert request.header("Authorization") == f"Bearer {KEY}"
        if request.method == "GET":
            assert request.idempotency_key is None
    posts = [r.idempotency_key for r in fake.requests if r.method == "POST"]
    assert posts == ["op-1-cancel-exec", "op-1-cancel-sync", "op-1-activate"]


def test_api_version_is_configurable(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient]
) -> None:
    make_client(api_version="2024-02-08").list_syncs_page()
    assert fake.requests[-1].header("X-Polytomic-Version") == "2024-02-08"


# ----------------------------------------------------------------- errors


def test_not_found(fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]) -> None:
    sync = fake.add_sync()
    with pytest.raises(NotFound) as excinfo:
        client.get_sync("3f0e1d6c-0000-4000-8000-000000000000")
    assert excinfo.value.status == 404
    assert excinfo.value.message == "sync not found"
    with pytest.raises(NotFound, match="execution not found"):
        client.cancel_execution(sync.id, "nope-nope", idempotency_key="op-2-cancel-1")
    assert len(fake.requests) == 2 and sleeps == []


def test_unauthorized_is_not_retried(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient]
) -> None:
    with pytest.raises(Unauthorized) as excinfo:
        make_client(api_key="wrong-key-123").me()
    assert excinfo.value.status == 401
    assert len(fake.requests) == 1


def test_forbidden_carries_polytomic_message_and_key(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync()
    body = {"status": 403, "message": "key lacks permission: sync.cancel", "key": "forbidden", "metadata": {}}
    fake.inject("POST", r"/cancel$", status=403, body=body)
    with pytest.raises(Forbidden) as excinfo:
        client.cancel_sync(sync.id, idempotency_key="op-3-cancel-1")
    error = excinfo.value
    assert (error.status, error.message, error.key) == (403, "key lacks permission: sync.cancel", "forbidden")
    assert "key lacks permission" in str(error) and "HTTP 403" in str(error)
    assert fake.effective_cancels() == 0
    assert len(fake.cancel_requests(sync.id)) == 1


def test_409_on_a_post_is_never_retried(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    fake.inject("POST", r"/cancel$", status=409, times=5)
    with pytest.raises(Conflict):
        client.cancel_sync(sync.id, idempotency_key="op-4-cancel-1")
    assert len(fake.cancel_requests()) == 1
    assert sleeps == []


def test_concurrent_duplicate_cancel_gets_conflict_and_acts_once(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    sync = fake.add_sync()
    run = sync.start_execution(cancel_delay=None)
    fake.set_latency(0.3, r"/cancel$", method="POST")
    outcomes: list[object] = []

    def cancel() -> None:
        try:
            outcomes.append(client.cancel_execution(sync.id, run.id, idempotency_key="op-5-cancel-1"))
        except PolytomicError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"]
    assert "Cancellation requested" in outcomes
    assert fake.effective_cancels(sync.id) == 1
    assert len(fake.cancel_requests(sync.id)) == 2  # the duplicate was not retried


def test_429_honours_retry_after_seconds(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    fake.inject("GET", r"/status$", status=429, retry_after=2)
    assert client.sync_status(sync.id).current_execution is None
    assert sleeps == [2.0]
    assert [r.status for r in fake.requests_to("GET", r"/status$")] == [429, 200]


def test_429_honours_retry_after_http_date(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    fake.inject("GET", r"/status$", status=429, retry_after=retry_after_date(5))
    client.sync_status(sync.id)
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 5.0  # HTTP dates have 1 s resolution
    assert len(fake.requests) == 2


def test_429_with_a_long_retry_after_raises_at_once(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    fake.inject("POST", r"/cancel$", status=429, retry_after=120)
    with pytest.raises(RateLimited) as excinfo:
        client.cancel_sync(sync.id, idempotency_key="op-6-cancel-1")
    assert excinfo.value.retry_after == 120.0
    assert excinfo.value.status == 429
    assert sleeps == []
    assert len(fake.requests) == 1


def test_429_exhausted(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient], sleeps: list[float]
) -> None:
    fake.inject("GET", r"^/api/syncs$", status=429, retry_after=1, times=10)
    with pytest.raises(RateLimited) as excinfo:
        make_client(max_retries=2).list_syncs_page()
    assert excinfo.value.retry_after == 1.0
    assert sleeps == [1.0, 1.0]
    assert len(fake.requests) == 3


def test_429_without_retry_after_backs_off(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    fake.inject("GET", r"^/api/syncs$", status=429, retry_after="")
    client.list_syncs_page()
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5  # backoff_base * 2**0
    assert [r.status for r in fake.requests] == [429, 200]


def test_5xx_retried_then_succeeding(
    fake: FakePolytomic,
    make_client: Callable[..., PolytomicClient],
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.polytomic")
    sync = fake.add_sync()
    fake.inject("GET", sync.id, status=503, times=2)
    client = make_client(backoff_base=0.5, backoff_cap=0.75)
    assert client.get_sync(sync.id).id == sync.id
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 0.75  # full jitter, capped
    attempts = [
        r.getMessage() for r in caplog.records if r.name == "bot.polytomic" and "attempt" in r.getMessage()
    ]
    assert len(attempts) == 3
    assert "GET /api/syncs/" in attempts[0] and "-> 503" in attempts[0] and "attempt 1/4" in attempts[0]
    assert "-> 200" in attempts[2] and "attempt 3/4" in attempts[2]


def test_5xx_exhausted_is_unavailable(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient], sleeps: list[float]
) -> None:
    fake.inject(None, r"^/api/me$", status=500, times=10)
    with pytest.raises(Unavailable) as excinfo:
        make_client(max_retries=3).me()
    assert excinfo.value.status == 500
    assert excinfo.value.message == "Internal Server Error"
    assert len(fake.requests) == 4 and len(sleeps) == 3


def test_post_retried_after_5xx_acts_once(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync()
    run = sync.start_execution(cancel_delay=None)
    html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    fake.inject("POST", r"/cancel$", status=502, body=html, content_type="text/html")
    assert (
        client.cancel_execution(sync.id, run.id, idempotency_key="op-10-cancel-1") == "Cancellation requested"
    )
    attempts = fake.cancel_requests(sync.id)
    assert [r.status for r in attempts] == [502, 200]
    assert {r.idempotency_key for r in attempts} == {"op-10-cancel-1"}
    assert fake.effective_cancels(sync.id) == 1
    assert run.status == "canceling"


def test_timeout_is_unavailable_and_retried(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient], sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    fake.set_latency(0.5, r"/status$")
    with pytest.raises(Unavailable) as excinfo:
        make_client(timeout=0.15, max_retries=1).sync_status(sync.id)
    assert excinfo.value.status is None
    assert "did not answer within 0.15s" in excinfo.value.message
    assert len(fake.requests_to("GET", r"/status$")) == 2
    assert len(sleeps) == 1


def test_connection_reset_is_retried(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    sync = fake.add_sync()
    fake.fail_connection(rf"^/api/syncs/{sync.id}$")
    assert client.get_sync(sync.id).id == sync.id
    assert [r.status for r in fake.requests] == [None, 200]
    assert len(sleeps) == 1


def test_connection_reset_exhausted_is_unavailable(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient]
) -> None:
    fake.fail_connection(r"^/api/me$", times=10)
    with pytest.raises(Unavailable, match="could not reach Polytomic") as excinfo:
        make_client(max_retries=2).me()
    assert excinfo.value.status is None
    assert len(fake.requests) == 3


def test_unreachable_server_is_unavailable(sleeps: list[float]) -> None:
    with FakePolytomic(KEY) as gone:
        url = gone.url
    with (
        PolytomicClient(url, api_key=KEY, max_retries=1, sleep=sleeps.append) as client,
        pytest.raises(Unavailable),
    ):
        client.me()
    assert len(sleeps) == 1


# ----------------------------------------------------------------- Polytomic's message


def test_redirects_are_not_followed(fake: FakePolytomic, client: PolytomicClient) -> None:
    fake.inject(
        None, r"^/api/me$", status=301, body=b"", headers={"Location": "https://elsewhere.example/api/me"}
    )
    with pytest.raises(PolytomicError, match=r"unexpected redirect to https://elsewhere\.example") as excinfo:
        client.me()
    assert type(excinfo.value) is PolytomicError and excinfo.value.status == 301
    assert len(fake.requests) == 1


def test_documented_error_body(fake: FakePolytomic, client: PolytomicClient) -> None:
    body = {
        "status": 400,
        "message": "mode must be one of create, update",
        "key": "invalid_mode",
        "metadata": {"f": 1},
    }
    fake.inject("GET", r"^/api/syncs$", status=400, body=body)
    with pytest.raises(PolytomicError) as excinfo:
        client.list_syncs_page(mode="bogus")
    error = excinfo.value
    assert type(error) is BadRequest  # a 400 is no more specific than that
    assert (error.status, error.message, error.key) == (
        400,
        "mode must be one of create, update",
        "invalid_mode",
    )
    assert fake.requests[0].query["mode"] == "bogus"


def test_older_error_body(fake: FakePolytomic, client: PolytomicClient) -> None:
    fake.inject("GET", r"^/api/syncs/", status=404, body={"error": {"message": "Model sync not found."}})
    with pytest.raises(NotFound) as excinfo:
        client.get_sync("a-sync")
    assert excinfo.value.message == "Model sync not found."


def test_non_json_error_body_is_short(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient]
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    fake.inject(None, r"^/api/me$", status=502, body=page.encode(), content_type="text/html")
    with pytest.raises(Unavailable) as excinfo:
        make_client(max_retries=0).me()
    message = excinfo.value.message
    assert message.startswith("502 Bad Gateway")
    assert "<" not in message
    assert len(message) <= 200
    fake.inject(None, r"^/api/me$", status=503, body=b"", times=1)
    with pytest.raises(Unavailable, match="Service Unavailable"):
        make_client(max_retries=0).me()


# ----------------------------------------------------------------- idempotency


def test_repeated_cancel_with_the_same_key_acts_once(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync()
    sync.start_execution(cancel_delay=None)
    assert client.cancel_sync(sync.id, idempotency_key="op-42-cancel-1") == "Cancellation requested"
    assert client.cancel_sync(sync.id, idempotency_key="op-42-cancel-1") == "Cancellation requested"
    assert len(fake.cancel_requests(sync.id)) == 2
    assert fake.effective_cancels(sync.id) == 1
    assert [r.replay for r in fake.cancel_requests(sync.id)] == [False, True]
    client.cancel_sync(sync.id, idempotency_key="op-42-cancel-2")
    assert fake.effective_cancels(sync.id) == 2


@pytest.mark.parametrize("key", ["short", "has space in it", "semi;colon-key", "x" * 256, "", "ünïcode-key"])
def test_invalid_idempotency_keys_are_rejected_before_sending(
    fake: FakePolytomic, client: PolytomicClient, key: str
) -> None:
    sync = fake.add_sync()
    with pytest.raises(ValueError, match="idempotency key"):
        client.cancel_sync(sync.id, idempotency_key=key)
    assert fake.requests == []


# ----------------------------------------------------------------- pagination


def test_list_syncs_follows_every_page(fake: FakePolytomic, client: PolytomicClient) -> None:
    syncs = [fake.add_sync(name=f"s{i}", active=i != 3) for i in range(7)]
    found = list(client.list_syncs(limit=2))
    assert sorted(s.id for s in found) == sorted(s.id for s in syncs)
    pages = fake.requests_to("GET", r"^/api/syncs$")
    assert len(pages) == 4
    assert "page_token" not in pages[0].query
    assert all(p.query.get("page_token") for p in pages[1:])
    assert all(p.query["limit"] == "2" for p in pages)

    paused = list(client.list_syncs(active=False))
    assert [s.id for s in paused] == [syncs[3].id]
    assert fake.requests[-1].query["active"] == "false"
    client.list_syncs_page(limit=500)
    assert fake.requests[-1].query["limit"] == "50"


def _mock_client(handler: Callable[[httpx.Request], httpx.Response], sleeps: list[float]) -> PolytomicClient:
    return PolytomicClient(
        "https://polytomic.invalid", api_key=KEY, transport=httpx.MockTransport(handler), sleep=sleeps.append
    )


def test_a_repeated_page_token_stops_pagination(sleeps: list[float]) -> None:
    calls: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url)
        n = len(calls)
        return httpx.Response(
            200, json={"data": [{"id": f"s-{n}"}], "pagination": {"next_page_token": "same"}}
        )

    with _mock_client(handler, sleeps) as client:
        assert [s.id for s in client.list_syncs()] == ["s-1", "s-2"]
    assert len(calls) == 2


@pytest.mark.parametrize("pagination", [None, {}, {"next_page_token": None}, {"next_page_token": ""}, "junk"])
def test_last_page_forms(pagination: object, sleeps: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": "a"}, {"name": "no id"}], "pagination": pagination})

    with _mock_client(handler, sleeps) as client:
        syncs, token = client.list_syncs_page()
    assert token is None
    assert [s.id for s in syncs] == ["a"]


def test_tolerant_answers(sleeps: list[float]) -> None:
    answers = {
        "/api/syncs/s-1": httpx.Response(200, json={"data": None}),
        "/api/syncs/s-1/status": httpx.Response(200, json={}),
        "/api/syncs/s-1/executions/e-1": httpx.Response(200, json={"data": {"status": "mystery"}}),
        "/api/syncs/s-1/cancel": httpx.Response(200, json={"data": None}),
        "/api/me": httpx.Response(200, text="<html>maintenance</html>"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.url.path]

    with _mock_client(handler, sleeps) as client:
        assert client.get_sync("s-1").id == "s-1"
        assert client.sync_status("s-1").current_execution is None
        execution = client.get_execution("s-1", "e-1")
        assert (
            execution.id == "e-1" and execution.status.phase is Phase.UNKNOWN and execution.status.is_active
        )
        assert client.cancel_sync("s-1", idempotency_key="op-1-cancel-1") == ""
        with pytest.raises(PolytomicError, match="not JSON"):
            client.me()


# ----------------------------------------------------------------- auth and secrets


def test_basic_auth_with_deployment_key(sleeps: list[float]) -> None:
    with FakePolytomic(None, deployment_key=DEPLOYMENT_KEY, organization_id=ORG) as fake:
        with PolytomicClient(
            fake.url, deployment_key=DEPLOYMENT_KEY, organization_id=ORG, sleep=sleeps.append
        ) as c:
            identity = c.me()
        assert identity.organization_id == ORG
        assert identity.is_organization is True and identity.user_id is None
        header = fake.requests[0].header("Authorization") or ""
        assert header.startswith("Basic ")
        assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"{ORG}:{DEPLOYMENT_KEY}"

        with (
            PolytomicClient(fake.url, deployment_key="wrong-key", organization_id=ORG) as c,
            pytest.raises(Unauthorized),
        ):
            c.me()
        with PolytomicClient(fake.url, api_key=KEY) as c, pytest.raises(Unauthorized):
            c.me()  # a Bearer key is not what this deployment accepts


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"api_key": KEY, "deployment_key": DEPLOYMENT_KEY, "organization_id": ORG},
        {"deployment_key": DEPLOYMENT_KEY},
        {"organization_id": ORG},
        {"api_key": f" {KEY}\n"},
    ],
)
def test_bad_credentials_config_is_a_value_error_without_the_key(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as excinfo:
        PolytomicClient("https://app.polytomic.com", **kwargs)
    assert KEY not in str(excinfo.value) and DEPLOYMENT_KEY not in str(excinfo.value)


def test_api_key_with_organization_id_is_accepted_and_org_not_sent(fake: FakePolytomic) -> None:
    with PolytomicClient(fake.url, api_key=KEY, organization_id=ORG) as c:
        c.me()
    assert fake.requests[0].header("Authorization") == f"Bearer {KEY}"


def test_the_key_never_leaks(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    sync = fake.add_sync()
    client = make_client(max_retries=1, timeout=0.2)
    errors: list[PolytomicError] = []
    # A server that echoes the credentials back must not get them into our errors.
    fake.inject(None, r"^/api/me$", status=401, body={"status": 401, "message": f"bad key {KEY}", "key": KEY})
    fake.inject("POST", r"/cancel$", status=500, body=f"proxy error, Authorization: Bearer {KEY}", times=2)
    fake.inject("GET", r"/status$", status=429, retry_after=999)
    fake.set_latency(0.5, r"/executions")
    fake.fail_connection(r"^/api/syncs$", times=2)
    for call in (
        client.me,
        lambda: client.cancel_sync(sync.id, idempotency_key="op-11-cancel-1"),
        lambda: client.sync_status(sync.id),
        lambda: client.list_executions_page(sync.id),
        client.list_syncs_page,
        lambda: client.get_sync("missing"),
        lambda: make_client(api_key="another-wrong-key").me(),
    ):
        with pytest.raises(PolytomicError) as excinfo:
            call()
        errors.append(excinfo.value)
    assert {type(e) for e in errors} == {
        Unauthorized,
        ServerError,
        RateLimited,
        TimedOut,
        ConnectionFailed,
        NotFound,
    }
    assert "[redacted]" in errors[0].message and errors[0].key == "[redacted]"
    for error in errors:
        texts = (
            str(error),
            repr(error),
            str(error.key),
            json.dumps(vars(error), default=str),
            str(error.__cause__),
        )
        for text in texts:
            assert KEY not in text
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.args)
    assert any(r.name == "bot.polytomic" for r in caplog.records)
    for text in (repr(client), str(client), repr(vars(client))):
        assert KEY not in text
    basic = PolytomicClient(fake.url, deployment_key=DEPLOYMENT_KEY, organization_id=ORG)
    token = base64.b64encode(f"{ORG}:{DEPLOYMENT_KEY}".encode()).decode()
    for text in (repr(basic), repr(vars(basic)), repr(basic._auth), repr(basic._headers)):
        assert DEPLOYMENT_KEY not in text and token not in text
    basic.close()


# ----------------------------------------------------------------- paths


def test_path_segments_are_quoted(fake: FakePolytomic, client: PolytomicClient) -> None:
    with pytest.raises(NotFound):
        client.get_sync("../me")
    assert fake.requests[-1].path == "/api/syncs/..%2Fme"
    assert fake.requests[-1].segments == ["api", "syncs", "../me"]

    sync = fake.add_sync()
    with pytest.raises(NotFound):
        client.get_execution(sync.id, "e1?only_completed=true#x")
    last = fake.requests[-1]
    assert last.path == f"/api/syncs/{sync.id}/executions/e1%3Fonly_completed%3Dtrue%23x"
    assert last.query == {}
    with pytest.raises(NotFound):
        client.cancel_execution(sync.id, "../../../me", idempotency_key="op-12-cancel-1")
    assert fake.requests[-1].path.endswith("/executions/..%2F..%2F..%2Fme/cancel")
    assert fake.requests[-1].status == 404
    assert fake.effective_cancels() == 0


@pytest.mark.parametrize("bad", ["", " ", ".", ".."])
def test_unusable_ids_are_rejected_before_sending(
    fake: FakePolytomic, client: PolytomicClient, bad: str
) -> None:
    with pytest.raises(ValueError):
        client.sync_status(bad)
    with pytest.raises(ValueError):
        client.cancel_execution("sync", bad, idempotency_key="op-13-cancel-1")
    assert fake.requests == []


# ----------------------------------------------------------------- which error, from the real client


def test_a_timeout_is_timed_out(fake: FakePolytomic, make_client: Callable[..., PolytomicClient]) -> None:
    fake.set_latency(0.5, r"^/api/me$")
    with pytest.raises(TimedOut) as excinfo:
        make_client(timeout=0.15, max_retries=0).me()
    assert excinfo.value.reason == "ReadTimeout"
    assert excinfo.value.retry_after is None and excinfo.value.transient


def test_a_reset_connection_is_connection_failed(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient]
) -> None:
    fake.fail_connection(r"^/api/me$")
    with pytest.raises(ConnectionFailed) as excinfo:
        make_client(max_retries=0).me()
    assert excinfo.value.reason in {"ReadError", "RemoteProtocolError"}  # RST or FIN, by timing
    assert excinfo.value.status is None and excinfo.value.retry_after is None


def test_a_refused_connection_is_connection_failed() -> None:
    with FakePolytomic(KEY) as gone:
        url = gone.url
    with (
        PolytomicClient(url, api_key=KEY, max_retries=0) as client,
        pytest.raises(ConnectionFailed) as excinfo,
    ):
        client.me()
    assert excinfo.value.reason == "ConnectError"
    assert str(excinfo.value) == "could not reach Polytomic (ConnectError) (GET /api/me)"


def test_a_5xx_is_a_server_error_with_the_servers_retry_after(
    fake: FakePolytomic, make_client: Callable[..., PolytomicClient], sleeps: list[float]
) -> None:
    fake.inject(None, r"^/api/me$", status=503, retry_after=42, times=2)
    with pytest.raises(ServerError) as excinfo:
        make_client(max_retries=1).me()
    assert (excinfo.value.status, excinfo.value.retry_after) == (503, 42.0)
    assert len(sleeps) == 1  # retried once, as any 5xx
    fake.inject(None, r"^/api/me$", status=502, times=1)
    with pytest.raises(ServerError) as excinfo:
        make_client(max_retries=0).me()
    assert (excinfo.value.status, excinfo.value.retry_after) == (502, None)


@pytest.mark.parametrize("status", [400, 405, 422])
def test_other_4xx_are_bad_requests_and_not_retried(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float], status: int
) -> None:
    fake.inject(None, r"^/api/me$", status=status, body={"status": status, "message": "no"})
    with pytest.raises(BadRequest) as excinfo:
        client.me()
    assert (excinfo.value.status, excinfo.value.message, excinfo.value.transient) == (status, "no", False)
    assert sleeps == [] and len(fake.requests) == 1
