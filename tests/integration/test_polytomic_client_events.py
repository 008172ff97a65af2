"""PolytomicClient's events, webhook and connections calls against the fake Polytomic over real
HTTP: paging a time window in either sort order, filters, the error mapping, webhook CRUD with
its secret kept out of every text, and connections resolved by ID or name."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.polytomic import (
    AmbiguousConnection,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PolytomicClient,
    ServerError,
    Unauthorized,
    UnknownConnection,
)

KEY = "pk_live_SUPERSECRET_0123456789"
HOOK_SECRET = "hook-SECRET-42abc"
ENDPOINT = "https://bot.example.com/polytomic/webhook"


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


def emit(fake: FakePolytomic, count: int, type_: str = "sync.running") -> list[dict[str, Any]]:
    return [fake.emit_event(type_, {"sync_id": f"s{i}", "execution_id": f"e{i}"}) for i in range(count)]


def stamp(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["created_at"])


# ----------------------------------------------------------------- events


def test_list_events_parses_and_sends_the_filters(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync(name="Contacts")
    run = sync.start_execution(cancel_delay=0)
    run.cancel()
    fake.wait_until(lambda: len(fake.events) == 2)
    [canceled, running] = client.list_events()  # the fake's default order: newest first
    assert (running.type, canceled.type) == ("sync.running", "sync.canceled")
    assert canceled.is_terminal and canceled.execution_id == run.id and canceled.sync_name == "Contacts"
    assert (
        canceled.sync is not None
        and canceled.sync.status is not None
        and canceled.sync.status.value == "canceled"
    )
    assert canceled.created_at is not None and canceled.organization_id == fake.organization_id
    assert "limit" not in fake.requests[-1].query  # Polytomic's own default, unless asked

    after = datetime(2025, 9, 18, 10, 11, 12, 345678, tzinfo=UTC)
    before = after.astimezone(timezone(timedelta(hours=-5))) + timedelta(days=1)
    assert client.list_events(type="sync.failed", starting_after=after, ending_before=before, limit=100) == []
    query = fake.requests[-1].query
    assert query == {
        "type": "sync.failed",
        "starting_after": "2025-09-18T10:11:12.345678Z",  # microseconds, in UTC
        "ending_before": "2025-09-19T10:11:12.345678Z",
        "limit": "100",
    }
    assert client.event_types()[:2] == ["sync.running", "sync.completed"]


def test_bad_event_arguments_are_refused_before_sending(fake: FakePolytomic, client: PolytomicClient) -> None:
    for bad in ({"limit": 0}, {"limit": 101}, {"starting_after": datetime(2025, 9, 18)}):
        with pytest.raises(ValueError):
            client.list_events(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.read_events(datetime(2025, 9, 18))  # naive: refused
    assert fake.requests == []


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_read_events_pages_a_window_in_either_order(
    fake: FakePolytomic, client: PolytomicClient, order: Any
) -> None:
    fake.events_order = order
    before = emit(fake, 5)
    inside = emit(fake, 230)
    after = emit(fake, 5)
    window = client.read_events(stamp(before[-1]), stamp(after[0]))
    assert window.complete and window.covered_until == stamp(after[0])
    assert [e.id for e in window.events] == [e["id"] for e in inside]  # each once, oldest first
    assert window.order == order
    pages = fake.requests_to("GET", r"^/api/events$")
    assert len(pages) == window.requests <= 4  # 230 events: three full pages and a short one
    assert all(p.query["limit"] == "100" for p in pages)
    assert window.newest == stamp(inside[-1])


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_read_events_open_ended_and_with_a_small_budget(
    fake: FakePolytomic, client: PolytomicClient, order: Any
) -> None:
    fake.events_order = order
    start = datetime.now(UTC) - timedelta(seconds=1)
    events = emit(fake, 450)
    everything = client.read_events(start)
    assert everything.complete and len(everything.events) == 450 and everything.covered_until is None

    cut = client.read_events(start, max_requests=2)
    assert not cut.complete and cut.requests == 2
    assert cut.covered_until is not None
    read = {e.id for e in cut.events}
    assert {e["id"] for e in events if stamp(e) < cut.covered_until} <= read
    rest = client.read_events(cut.covered_until - timedelta(microseconds=1))
    assert read | {e.id for e in rest.events} == {e["id"] for e in events}


def test_read_events_filters_by_type(fake: FakePolytomic, client: PolytomicClient) -> None:
    emit(fake, 150)
    failures = emit(fake, 120, "sync.failed")
    window = client.read_events(None, type="sync.failed")
    assert window.complete and [e.id for e in window.events] == [e["id"] for e in failures]
    assert all(r.query["type"] == "sync.failed" for r in fake.requests_to("GET", r"^/api/events$"))


def test_events_errors_map_onto_the_hierarchy(
    fake: FakePolytomic, client: PolytomicClient, sleeps: list[float]
) -> None:
    with pytest.raises(BadRequest) as bad:
        client.list_events(type="sync.cancelled")  # the fake refuses unknown types, 422
    assert bad.value.status == 422
    fake.inject("GET", r"^/api/events$", status=403)
    with pytest.raises(Forbidden):
        client.list_events()
    fake.inject("GET", r"^/api/events$", status=404)  # an old deployment without the events API
    with pytest.raises(NotFound):
        client.read_events(None)
    with pytest.raises(Unauthorized):
        PolytomicClient(fake.url, api_key="wrong", sleep=sleeps.append).list_events()
    assert sleeps == []  # none of those is retried
    fake.inject("GET", r"^/api/events$", status=500, times=10)
    with pytest.raises(ServerError):
        client.read_events(None)
    assert len(sleeps) == client.max_retries
    fake.clear_faults()
    fake.inject("GET", r"^/api/events$", status=503, times=1)
    emit(fake, 3)
    assert len(client.read_events(None).events) == 3  # a 5xx is retried within the read


# ----------------------------------------------------------------- the webhook


def test_webhook_create_read_update_disable_delete(fake: FakePolytomic, client: PolytomicClient) -> None:
    assert client.list_webhooks() == []
    hook = client.create_webhook(ENDPOINT, HOOK_SECRET)
    assert (hook.endpoint, hook.disabled, hook.organization_id) == (ENDPOINT, False, fake.organization_id)
    assert hook.secret_matches(HOOK_SECRET) and hook.created_at is not None
    create = fake.requests[-1]
    assert create.json == {"endpoint": ENDPOINT, "secret": HOOK_SECRET}
    assert create.idempotency_key and create.idempotency_key.startswith("webhook-create-")
    assert client.list_webhooks() == [hook] and client.get_webhook(hook.id) == hook

    with pytest.raises(BadRequest) as second:  # one per organization
        client.create_webhook("https://elsewhere.example.com/hook", "another-secret")
    assert second.value.status == 422

    moved = client.update_webhook(hook.id, "https://new.example.com/polytomic/webhook", "rotated-secret")
    assert moved.id == hook.id and moved.endpoint == "https://new.example.com/polytomic/webhook"
    assert moved.secret_matches("rotated-secret") and not moved.secret_matches(HOOK_SECRET)
    assert fake.requests[-1].method == "PUT" and fake.requests[-1].idempotency_key

    assert client.disable_webhook(hook.id).disabled is True
    assert client.enable_webhook(hook.id).disabled is False
    assert client.delete_webhook(hook.id) is None
    assert fake.requests[-1].method == "DELETE" and fake.requests[-1].idempotency_key
    assert client.list_webhooks() == []
    with pytest.raises(NotFound):
        client.get_webhook(hook.id)
    with pytest.raises(NotFound):
        client.delete_webhook(hook.id)
    keys = [r.idempotency_key for r in fake.requests if r.method != "GET"]
    assert len(keys) == len(set(keys))  # a fresh key per call


def test_webhook_writes_are_retried_with_the_same_key(fake: FakePolytomic, client: PolytomicClient) -> None:
    fake.inject("POST", r"^/api/webhooks$", status=502)
    hook = client.create_webhook(ENDPOINT, HOOK_SECRET)
    first, second = fake.requests_to("POST", r"^/api/webhooks$")
    assert first.idempotency_key == second.idempotency_key
    assert client.list_webhooks() == [hook]


@pytest.mark.parametrize(
    ("endpoint", "secret"),
    [
        ("ftp://bot.example.com/hook", HOOK_SECRET),
        ("bot.example.com/hook", HOOK_SECRET),
        ("https://bot.example.com/ho ok", HOOK_SECRET),
        (ENDPOINT, "short"),
        (ENDPOINT, "x" * 33),
        (ENDPOINT, ""),
    ],
)
def test_bad_webhook_settings_are_refused_before_sending(
    fake: FakePolytomic, client: PolytomicClient, endpoint: str, secret: str
) -> None:
    with pytest.raises(ValueError) as caught:
        client.create_webhook(endpoint, secret)
    if secret:
        assert secret not in str(caught.value)
    assert fake.requests == []


def test_the_webhook_secret_never_reaches_a_text_or_a_log(
    fake: FakePolytomic, client: PolytomicClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = client.create_webhook(ENDPOINT, HOOK_SECRET)
    # A server (or proxy) echoing the request back in an error must not leak the secret.
    fake.inject(
        "PUT",
        r"^/api/webhooks/",
        status=422,
        body={"status": 422, "message": f"secret {HOOK_SECRET} rejected"},
    )
    with pytest.raises(BadRequest) as echoed:
        client.update_webhook(hook.id, ENDPOINT, HOOK_SECRET)
    fake.inject("POST", r"^/api/webhooks$", status=200, body=f"<html>{HOOK_SECRET}</html>")
    with pytest.raises(Exception) as not_json:
        client.create_webhook(ENDPOINT, HOOK_SECRET)
    texts = [
        str(echoed.value),
        echoed.value.message,
        str(not_json.value),
        repr(hook),
        str(client.list_webhooks()),
        caplog.text,
    ]
    for text in texts:
        assert HOOK_SECRET not in text
    assert "[redacted]" in str(echoed.value)


def test_a_repeated_key_replays_the_first_webhook_answer(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    first = client.create_webhook(ENDPOINT, HOOK_SECRET, idempotency_key="webhook-register-1")
    again = client.create_webhook(ENDPOINT, HOOK_SECRET, idempotency_key="webhook-register-1")
    assert again == first  # replayed: not refused as a second webhook
    assert fake.webhook is not None and fake.webhook.id == first.id
    with pytest.raises(BadRequest):  # the same key on another request is refused (422)
        client.delete_webhook(first.id, idempotency_key="webhook-register-1")
    assert fake.webhook is not None


# ----------------------------------------------------------------- connections


def test_connections_list_get_and_resolve(fake: FakePolytomic, client: PolytomicClient) -> None:
    salesforce = fake.add_connection("Salesforce prod", "salesforce")
    hubspot = fake.add_connection("HubSpot", "hubspot", status="unhealthy", status_error="token expired")
    fake.add_connection("Warehouse", "snowflake")
    fake.add_connection("warehouse", "postgresql")
    listed = client.list_connections()
    assert [c.id for c in listed] == [c.id for c in fake.connections]
    got = client.get_connection(hubspot.id)
    assert (got.name, got.type.id, got.type.name, got.status, got.status_error) == (
        "HubSpot",
        "hubspot",
        "HubSpot",
        "unhealthy",
        "token expired",
    )

    assert client.resolve_connection(salesforce.id).id == salesforce.id
    assert client.resolve_connection("SALESFORCE PROD").id == salesforce.id
    assert client.resolve_connection("  hubspot ").id == hubspot.id
    with pytest.raises(AmbiguousConnection) as ambiguous:
        client.resolve_connection("WAREHOUSE")
    assert len(ambiguous.value.candidates) == 2
    with pytest.raises(UnknownConnection):
        client.resolve_connection("Salesforce")  # exact names only
    with pytest.raises(NotFound):
        client.get_connection("missing")
    assert len(fake.requests_to("GET", r"^/api/connections$")) == 6  # one, then one per resolve


def test_syncs_writing_to_a_connection_across_pages(fake: FakePolytomic, client: PolytomicClient) -> None:
    salesforce = fake.add_connection("Salesforce prod", "salesforce")
    writes = {fake.add_sync(name=f"to sf {i}", target_connection_id=salesforce.id).id for i in range(57)}
    for i in range(5):
        fake.add_sync(name=f"elsewhere {i}")
    target = client.resolve_connection("salesforce prod")
    found = list(client.list_syncs(target_connection_id=target.id))
    assert {s.id for s in found} == writes and all(s.target_connection_id == target.id for s in found)
    pages = fake.requests_to("GET", r"^/api/syncs$")
    assert len(pages) == 2 and all(p.query["target_connection_id"] == target.id for p in pages)


def test_start_sync_answers_for_restart_buttons(fake: FakePolytomic, client: PolytomicClient) -> None:
    """Issue 14's Restart: one start per key, and a 409 told apart by reading the status."""
    sync = fake.add_sync()
    started = client.start_sync(sync.id, idempotency_key="alert-1-failure-1-start")
    replayed = client.start_sync(sync.id, idempotency_key="alert-1-failure-1-start")
    assert replayed.id == started.id and len(sync.executions) == 1  # the same click twice: one run
    with pytest.raises(Conflict):
        client.start_sync(sync.id, idempotency_key="alert-1-failure-2-start")
    status = client.sync_status(sync.id)
    assert status.is_running and status.current_execution is not None
    assert status.current_execution.id == started.id  # "already running", not a lost start
