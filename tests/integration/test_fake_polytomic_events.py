"""The fake Polytomic's events, webhook and connections: answers validated against the official
SDK's models, events emitted by every run state change, and webhook deliveries (signed,
retried, duplicated, reordered, lost) checked with the bot's own pure webhook module.

The schemas are the SDK's own models (tests/schemas.py says where they come from), made
strict: an invented field or a wrong type fails here.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.fakes.polytomic import EVENT_TYPES, FakePolytomic
from bot.polytomic import dedupe_key, parse_delivery, verify_signature
from tests.schemas import check_openapi, event_schema_validator, sdk_validator

SECRET = "fake-hook-secret"
PAYLOAD_MODEL = {
    "sync.running": "EventingSyncRunningEvent",
    "sync.completed": "EventingSyncCompletedEvent",
    "sync.completed_with_errors": "EventingSyncCompletedWithErrorsEvent",
    "sync.failed": "EventingSyncFailedEvent",
    "sync.canceled": "EventingSyncCanceledEvent",
    "bulk_sync.running": "EventingBulkSyncRunningEvent",
    "bulk_sync.completed": "EventingBulkSyncCompletedEvent",
    "bulk_sync.completed_with_error": "EventingBulkSyncCompletedWithErrorEvent",
    "bulk_sync.failed": "EventingBulkSyncFailedEvent",
    "bulk_sync.canceled": "EventingBulkSyncCanceledEvent",
}


def check(name: str, response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if name == "ApiError":
        sdk_validator("ApiError").validate(body)
        assert body["status"] == status and body["message"]
    else:
        event_schema_validator(name).validate(body)
    return body


def check_events(response: httpx.Response) -> list[dict[str, Any]]:
    """An EventsEnvelope whose every payload is exactly the SDK model of its type."""
    body = check("EventsEnvelope", response)
    events: list[dict[str, Any]] = body["data"] or []
    for event in events:
        assert event["type"] in EVENT_TYPES
        assert set(event) == {"id", "type", "created_at", "organization_id", "event"}
        event_schema_validator(PAYLOAD_MODEL[event["type"]]).validate(event["event"])
        check_openapi("GetExecutionResponseSchema", {"id": event["id"]})  # ids are UUIDs
    return events


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic(delivery_retry_base=0.05) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def http(fake: FakePolytomic) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake.api_key}", "X-Polytomic-Version": "2025-09-18"}
    with httpx.Client(base_url=fake.url, headers=headers, timeout=5) as client:
        yield client


# ----------------------------------------------------------------- a webhook endpoint


@dataclass
class Delivered:
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """A webhook endpoint on 127.0.0.1: records every POST, answers `statuses` in turn
    (then `default`), once `gate` (when there is one) opens."""

    def __init__(self) -> None:
        self.received: list[Delivered] = []
        self.statuses: list[int] = []
        self.default = 200
        self.gate: threading.Event | None = None  # when set, each POST waits for it to open
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append(Delivered(dict(self.headers.items()), body, time.monotonic()))
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    gate = receiver.gate
                if gate is not None:
                    gate.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/polytomic/webhook"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(d.body) for d in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


# ----------------------------------------------------------------- events from runs


def test_every_run_state_change_emits_one_event_in_the_sdk_shape(
    fake: FakePolytomic, http: httpx.Client
) -> None:
    salesforce = fake.add_connection("Salesforce prod", "salesforce")
    sync = fake.add_sync(name="Contacts", target_connection_id=salesforce.id)
    completed = sync.start_execution(rows_per_second=1000, pending_for=0.05)
    fake.wait_until(lambda: len(fake.events_for(completed.id)) == 1)  # running, by the clock
    completed.finish("completed")
    with_errors = sync.start_execution()
    with_errors.finish("completed", errors=["row 3: INVALID_EMAIL", "row 9: DUPLICATE"])
    failed = sync.start_execution(outcome="failed", after=0.05, errors=["Snowflake timed out"])
    fake.wait_until(lambda: failed.status == "failed")
    canceled = sync.start_execution(cancel_delay=0.05)
    http.post(f"/api/syncs/{sync.id}/cancel", headers={"Idempotency-Key": "op-1-cancel-1"})
    fake.wait_until(lambda: canceled.status == "canceled")
    sync.start_execution().finish("interrupted")  # no event type covers it

    events = check_events(http.get("/api/events", params={"limit": "100"}))
    by_run: dict[str, list[str]] = {}
    for event in reversed(events):  # newest first by default
        by_run.setdefault(event["event"]["execution_id"], []).append(event["type"])
    assert by_run.pop(completed.id) == ["sync.running", "sync.completed"]
    assert by_run.pop(with_errors.id) == ["sync.running", "sync.completed_with_errors"]
    assert by_run.pop(failed.id) == ["sync.running", "sync.failed"]
    assert by_run.pop(canceled.id) == ["sync.running", "sync.canceled"]
    assert list(by_run.values()) == [["sync.running"]]  # the interrupted run said only that

    for event in events:
        body = event["event"]
        assert (body["sync_id"], body["sync_name"], body["target_connection_id"]) == (
            sync.id,
            "Contacts",
            salesforce.id,
        )
        assert event["organization_id"] == body["organization_id"] == fake.organization_id
    final = {e["type"]: e["event"] for e in events if e["type"] != "sync.running"}
    assert final["sync.canceled"]["status"] == "canceled"
    assert final["sync.failed"]["error"] == "Snowflake timed out"
    assert final["sync.completed_with_errors"]["number_of_errors"] == 2
    assert "INVALID_EMAIL" in final["sync.completed_with_errors"]["error"]
    done = final["sync.completed"]
    run = completed.as_json()
    assert done["status"] == "completed" and done["trigger"] == "scheduled"
    assert done["record_count"] == run["counts"]["total"] > 0
    assert (done["inserted_count"], done["updated_count"]) == (
        run["counts"]["insert"],
        run["counts"]["update"],
    )
    assert done["schedule"] == {"frequency": "hourly"}
    # The execution itself agrees: completed, with its record errors listed.
    assert with_errors.as_json()["errors"] == ["row 3: INVALID_EMAIL", "row 9: DUPLICATE"]
    assert with_errors.as_json()["status"] == "completed"


def test_events_are_emitted_on_time_without_anyone_asking(fake: FakePolytomic) -> None:
    sync = fake.add_sync()
    run = sync.start_execution(outcome="completed", after=0.2)
    fake.wait_for_event(lambda e: e["type"] == "sync.completed", timeout=5)
    assert fake.requests == []  # nobody read anything: the clock did it
    created = datetime.fromisoformat(fake.events_for(run.id, type="sync.completed")[0]["created_at"])
    assert run.ended_at is not None and created.timestamp() >= run.ended_at - 1e-6  # stamped once it ended


def test_history_and_api_started_runs(fake: FakePolytomic, http: httpx.Client) -> None:
    sync = fake.add_sync()
    sync.add_past_execution("failed", ago=600)
    assert fake.events == []  # history from before the fake began emitted nothing
    started = http.post(
        f"/api/syncs/{sync.id}/executions", json={}, headers={"Idempotency-Key": "op-2-start-1"}
    )
    assert started.status_code == 200
    [running] = fake.events
    assert (
        running["type"] == "sync.running" and running["event"]["execution_id"] == started.json()["data"]["id"]
    )


def test_scheduled_runs_start_when_due_and_pausing_skips_them(
    fake: FakePolytomic, http: httpx.Client
) -> None:
    sync = fake.add_sync(name="Every 0.2 s")
    sync.start_options = {"outcome": "completed", "after": 0.05}
    sync.schedule_runs(0.2, first_in=0.05, outcome="completed", after=0.05)
    fake.wait_until(lambda: len(fake.events_for(type="sync.completed")) >= 2, timeout=5)
    assert all(e.type == "scheduled" for e in sync.executions)
    status = http.get(f"/api/syncs/{sync.id}/status").json()["data"]
    assert status["next_execution_time"] is not None

    sync.set_active(False)
    time.sleep(0.05)
    count = len(sync.executions)
    time.sleep(0.5)  # two due times pass while paused (nothing to poll for: absence is the point)
    assert len(sync.executions) == count
    sync.set_active(True)
    fake.wait_until(lambda: len(sync.executions) > count, timeout=3)

    sync.stop_schedule()
    time.sleep(0.05)
    count = len(sync.executions)
    time.sleep(0.5)
    assert len(sync.executions) == count


def test_a_due_run_that_finds_one_going_is_skipped(fake: FakePolytomic) -> None:
    sync = fake.add_sync()
    long = sync.start_execution()  # runs until told otherwise
    sync.schedule_runs(0.1, first_in=0.05)
    time.sleep(0.4)  # three due times pass while it runs (absence is the point)
    assert sync.executions == [long]
    assert sync.finish_current("failed", errors=["boom"]) is long
    assert long.status == "failed" and fake.events_for(long.id, type="sync.failed")
    fake.wait_until(lambda: len(sync.executions) == 2)  # the next due time starts one
    sync.stop_schedule()
    assert sync.finish_current("completed") is sync.executions[1]
    assert sync.finish_current() is None  # nothing going any more


# ----------------------------------------------------------------- GET /api/events


def test_filters_limit_and_order(fake: FakePolytomic, http: httpx.Client) -> None:
    emitted = [fake.emit_event("sync.running", {"sync_id": f"s{i}"}) for i in range(30)]
    emitted += [fake.emit_event("sync.failed", {"sync_id": "f", "error": "x"}) for _ in range(3)]
    oldest_first = ids(emitted)

    assert ids(check_events(http.get("/api/events"))) == oldest_first[::-1][:10]  # default 10, newest first
    assert ids(check_events(http.get("/api/events", params={"limit": "100"}))) == oldest_first[::-1]
    fake.events_order = "ascending"
    assert ids(check_events(http.get("/api/events", params={"limit": "5"}))) == oldest_first[:5]

    failed = check_events(http.get("/api/events", params={"type": "sync.failed", "limit": "100"}))
    assert ids(failed) == oldest_first[30:]
    assert check("EventsEnvelope", http.get("/api/events", params={"type": "bulk_sync.failed"})) == {
        "data": None
    }

    # Strictly after / strictly before, at the microsecond the answer shows.
    pivot, end = emitted[10]["created_at"], emitted[20]["created_at"]
    window = check_events(
        http.get("/api/events", params={"starting_after": pivot, "ending_before": end, "limit": "100"})
    )
    assert ids(window) == oldest_first[11:20]
    as_offset = datetime.fromisoformat(pivot).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert (
        ids(check_events(http.get("/api/events", params={"starting_after": as_offset, "limit": "100"})))
        == oldest_first[11:]
    )
    nanos = pivot.replace("Z", "999Z")  # 9 fraction digits: later than the event itself
    assert (
        ids(check_events(http.get("/api/events", params={"ending_before": nanos, "limit": "100"})))
        == oldest_first[:11]
    )
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert check("EventsEnvelope", http.get("/api/events", params={"starting_after": future})) == {
        "data": None
    }
    assert check(
        "EventsEnvelope", http.get("/api/events", params={"starting_after": end, "ending_before": pivot})
    ) == {"data": None}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"limit": "5_0"},
        {"limit": " 5"},
        {"starting_after": "yesterday"},
        {"starting_after": "2025-09-18"},
        {"starting_after": "2025-09-18T10:00:00"},  # no offset
        {"starting_after": "2025-09-18 10:00:00Z"},  # no T
        {"ending_before": "2025-13-45T10:00:00Z"},
        {"ending_before": "1758190000"},
        {"type": "sync.cancelled"},
        {"type": "bulk_sync.completed_with_errors"},  # plural is the model-sync spelling
    ],
)
def test_bad_filters_answer_422(fake: FakePolytomic, http: httpx.Client, params: dict[str, str]) -> None:
    fake.emit_event("sync.running", {})
    check("ApiError", http.get("/api/events", params=params), 422)


def test_event_types_and_methods(http: httpx.Client) -> None:
    types = check("EventTypesEnvelope", http.get("/api/events_types"))["data"]
    assert types == list(EVENT_TYPES)
    check("ApiError", http.post("/api/events", headers={"Idempotency-Key": "events-post-1"}), 405)
    check("ApiError", http.get("/api/events", headers={"Authorization": "Bearer nope"}), 401)


def test_events_are_kept_48_hours_and_bounded_in_number(fake: FakePolytomic, http: httpx.Client) -> None:
    assert fake.event_retention == 48 * 3600
    for i in range(5):
        fake.emit_event("sync.running", {"sync_id": str(i)})
    fake.max_events = 3
    assert [e["event"]["sync_id"] for e in fake.events] == ["2", "3", "4"]
    fake.event_retention = 0.2
    time.sleep(0.25)
    fake.emit_event("sync.running", {"sync_id": "fresh"})
    assert [e["event"]["sync_id"] for e in check_events(http.get("/api/events"))] == ["fresh"]


def test_emit_event_takes_bulk_and_unknown_types(fake: FakePolytomic, http: httpx.Client) -> None:
    bulk = fake.emit_event(
        "bulk_sync.completed_with_error",
        {
            "sync_id": "b1",
            "sync_name": "Asana to BigQuery",
            "source_connection_id": "a",
            "destination_connection_id": "b",
        },
    )
    assert check_events(http.get("/api/events")) == [bulk]
    fake.emit_event("sync.paused", {"sync_id": "s"})  # a type Polytomic may add later
    assert fake.events[-1]["type"] == "sync.paused"


# ----------------------------------------------------------------- webhooks CRUD


def test_webhook_crud_in_the_sdk_shape(fake: FakePolytomic, http: httpx.Client) -> None:
    assert check("WebhookListEnvelope", http.get("/api/webhooks")) == {"data": []}
    body = {"endpoint": "https://bot.example.com/polytomic/webhook", "secret": SECRET}
    created = check(
        "WebhookEnvelope", http.post("/api/webhooks", json=body, headers={"Idempotency-Key": "wh-create-1"})
    )
    hook = created["data"]
    assert (hook["endpoint"], hook["secret"], hook["disabled"]) == (body["endpoint"], SECRET, False)
    assert hook["organization_id"] == fake.organization_id
    check_openapi("GetExecutionResponseSchema", {"id": hook["id"]})  # a UUID
    assert check("WebhookListEnvelope", http.get("/api/webhooks"))["data"] == [hook]
    assert check("WebhookEnvelope", http.get(f"/api/webhooks/{hook['id']}"))["data"] == hook
    assert fake.webhook is not None and SECRET not in repr(fake.webhook)

    # One per organization: a second create is refused, the first stays.
    second = {"endpoint": "https://other.example.com/hook", "secret": "other-secret"}
    check(
        "ApiError", http.post("/api/webhooks", json=second, headers={"Idempotency-Key": "wh-create-2"}), 422
    )
    assert fake.webhook.endpoint == body["endpoint"]

    updated = check(
        "WebhookEnvelope",
        http.put(f"/api/webhooks/{hook['id']}", json=second, headers={"Idempotency-Key": "wh-update-1"}),
    )["data"]
    assert (updated["id"], updated["endpoint"], updated["secret"]) == (
        hook["id"],
        second["endpoint"],
        "other-secret",
    )

    disabled = check(
        "WebhookEnvelope",
        http.post(f"/api/webhooks/{hook['id']}/disable", headers={"Idempotency-Key": "wh-off-1"}),
    )
    assert disabled["data"]["disabled"] is True and disabled["data"]["disabled_at"]
    enabled = check(
        "WebhookEnvelope",
        http.post(f"/api/webhooks/{hook['id']}/enable", headers={"Idempotency-Key": "wh-enable-1"}),
    )
    assert enabled["data"]["disabled"] is False and "disabled_at" not in enabled["data"]

    deleted = http.delete(f"/api/webhooks/{hook['id']}", headers={"Idempotency-Key": "wh-delete-1"})
    assert (deleted.status_code, deleted.content) == (200, b"")
    replayed = http.delete(f"/api/webhooks/{hook['id']}", headers={"Idempotency-Key": "wh-delete-1"})
    assert (replayed.status_code, replayed.content) == (200, b"")  # same key: the first answer
    check(
        "ApiError",
        http.delete(f"/api/webhooks/{hook['id']}", headers={"Idempotency-Key": "wh-delete-2"}),
        404,
    )
    check("ApiError", http.get(f"/api/webhooks/{hook['id']}"), 404)
    assert fake.webhook is None


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "https://ok.example.com/hook", "secret": "short"},  # 5 characters
        {"endpoint": "https://ok.example.com/hook", "secret": "x" * 33},
        {"endpoint": "https://ok.example.com/hook"},
        {"secret": "long-enough"},
        {"endpoint": "ftp://ok.example.com/hook", "secret": "long-enough"},
        {"endpoint": "not a url", "secret": "long-enough"},
        {"endpoint": "https://", "secret": "long-enough"},
        {"endpoint": 42, "secret": "long-enough"},
    ],
)
def test_bad_webhook_bodies_answer_422_and_change_nothing(
    fake: FakePolytomic, http: httpx.Client, body: dict[str, Any]
) -> None:
    answer = check(
        "ApiError", http.post("/api/webhooks", json=body, headers={"Idempotency-Key": "wh-bad-0001"}), 422
    )
    assert "secret" not in body or str(body["secret"]) not in answer["message"]
    assert fake.webhook is None


def test_webhook_odd_requests(fake: FakePolytomic, http: httpx.Client) -> None:
    check(
        "ApiError", http.post("/api/webhooks", content=b"[1]", headers={"Idempotency-Key": "wh-odd-1"}), 400
    )
    check("ApiError", http.get("/api/webhooks/00000000-0000-4000-8000-000000000000"), 404)
    hook = fake.register_webhook("https://a.example.com/h", SECRET)
    check("ApiError", http.patch(f"/api/webhooks/{hook.id}", json={}), 405)
    check("ApiError", http.get(f"/api/webhooks/{hook.id}/deliveries/x"), 404)


# ----------------------------------------------------------------- connections


def test_connections_in_the_sdk_shape(fake: FakePolytomic, http: httpx.Client) -> None:
    assert check("ConnectionListResponseEnvelope", http.get("/api/connections")) == {"data": []}
    salesforce = fake.add_connection("Salesforce prod", "salesforce")
    shared = fake.add_connection("Salesforce (shared)", "salesforce", parent_connection_id=salesforce.id)
    broken = fake.add_connection(
        "Old Postgres", "postgresql", status="unhealthy", status_error="connection refused"
    )
    listed = check("ConnectionListResponseEnvelope", http.get("/api/connections"))["data"]
    assert [c["id"] for c in listed] == [salesforce.id, shared.id, broken.id]
    assert listed[0]["type"] == {"id": "salesforce", "name": "Salesforce"}
    assert listed[1]["parent_connection_id"] == salesforce.id
    assert (listed[2]["type"]["name"], listed[2]["status_error"]) == ("PostgreSQL", "connection refused")
    one = check("ConnectionResponseEnvelope", http.get(f"/api/connections/{salesforce.id}"))["data"]
    assert one == listed[0]
    check("ApiError", http.get("/api/connections/nope"), 404)

    writes = [fake.add_sync(name=f"to sf {i}", target_connection_id=salesforce.id) for i in range(3)]
    fake.add_sync(name="elsewhere")
    by_target = http.get("/api/syncs", params={"target_connection_id": salesforce.id}).json()["data"]
    assert {s["id"] for s in by_target} == {s.id for s in writes}


# ----------------------------------------------------------------- deliveries


@pytest.mark.parametrize("encoding", ["hex", "sha256=hex", "base64"])
def test_each_event_is_delivered_signed_as_configured(
    fake: FakePolytomic, http: httpx.Client, receiver: Receiver, encoding: Any
) -> None:
    fake.signature_encoding = encoding
    fake.register_webhook(receiver.url, SECRET)
    run = fake.add_sync().start_execution(cancel_delay=0.05)
    run.cancel()
    fake.wait_for_deliveries(2, ok=True)
    assert len(receiver.received) == 2
    listed = {e["id"]: e for e in check_events(http.get("/api/events"))}
    for delivered in receiver.received:
        assert delivered.headers["Content-Type"] == "application/json"
        assert verify_signature(delivered.body, delivered.headers["Polytomic-Signature"], SECRET) == encoding
        event = parse_delivery(delivered.body)
        assert event.execution_id == run.id
        assert json.loads(delivered.body) == listed[event.id or ""]  # the body is the event as listed
        assert dedupe_key(delivered.body) == event.id
    assert [parse_delivery(d.body).type for d in receiver.received] == ["sync.running", "sync.canceled"]


def test_a_non_2xx_answer_is_retried_with_backoff_then_never_again(
    fake: FakePolytomic, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 200]
    fake.register_webhook(receiver.url, SECRET)
    event = fake.emit_event("sync.failed", {"sync_id": "s", "error": "x"})
    fake.wait_for_deliveries(1, ok=True)
    fake.flush_deliveries()
    attempts = fake.deliveries
    assert [(a.attempt, a.status) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert {a.event_id for a in attempts} == {event["id"]}
    gaps = [b.sent_at - a.finished_at for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.05 * 0.9 and gaps[1] >= 0.1 * 0.9  # exponential: base, then twice that
    assert len({d.body for d in receiver.received}) == 1  # the same bytes each time
    assert len({d.headers["Polytomic-Signature"] for d in receiver.received}) == 1


def test_after_five_retries_the_event_is_given_up(fake: FakePolytomic, receiver: Receiver) -> None:
    fake.delivery_retry_base = 0.01
    receiver.default = 500
    fake.register_webhook(receiver.url, SECRET)
    fake.emit_event("sync.running", {})
    fake.wait_for_deliveries(6)
    fake.flush_deliveries()
    assert [a.attempt for a in fake.deliveries] == [1, 2, 3, 4, 5, 6]
    assert len(receiver.received) == 6


def test_an_unreachable_endpoint_is_retried_too(fake: FakePolytomic) -> None:
    fake.delivery_retry_base = 0.01
    fake.register_webhook("http://127.0.0.1:9/polytomic/webhook", SECRET)  # discard port: refused
    fake.emit_event("sync.running", {})
    attempts = fake.wait_for_deliveries(6, timeout=10)
    assert all(a.status is None and a.error for a in attempts)


def test_a_stuck_endpoint_never_blocks_the_api(
    fake: FakePolytomic, http: httpx.Client, receiver: Receiver
) -> None:
    receiver.gate = threading.Event()  # the endpoint does not answer until the gate opens
    fake.register_webhook(receiver.url, SECRET)
    sync = fake.add_sync()
    for i in range(3):
        answer = http.post(
            f"/api/syncs/{sync.id}/executions", json={}, headers={"Idempotency-Key": f"op-9-start-{i}"}
        )
        assert answer.status_code == 200
        sync.finish_current("completed")
    # Six events emitted and every API call answered while the first delivery still hangs.
    assert len(fake.events) == 6 and fake.deliveries == []
    receiver.gate.set()
    fake.wait_for_deliveries(6, ok=True)


def test_a_disabled_webhook_gets_nothing_and_nothing_is_queued(
    fake: FakePolytomic, http: httpx.Client, receiver: Receiver
) -> None:
    hook = fake.register_webhook(receiver.url, SECRET)
    http.post(f"/api/webhooks/{hook.id}/disable", headers={"Idempotency-Key": "wh-off-2"})
    fake.emit_event("sync.running", {"sync_id": "while-disabled"})
    http.post(f"/api/webhooks/{hook.id}/enable", headers={"Idempotency-Key": "wh-enable-2"})
    after = fake.emit_event("sync.running", {"sync_id": "after"})
    fake.wait_for_deliveries(1, ok=True)
    fake.flush_deliveries()
    assert [b["id"] for b in receiver.bodies()] == [after["id"]]


def test_duplicate_mode_sends_every_event_twice(fake: FakePolytomic, receiver: Receiver) -> None:
    fake.register_webhook(receiver.url, SECRET)
    fake.set_delivery_mode(duplicate=1.0)
    events = [fake.emit_event("sync.running", {"sync_id": str(i)}) for i in range(3)]
    fake.wait_for_deliveries(6, ok=True)
    delivered = [b["id"] for b in receiver.bodies()]
    assert sorted(delivered) == sorted(ids(events) * 2)
    assert sorted(a.copy for a in fake.deliveries) == [0, 0, 0, 1, 1, 1]
    bodies = {d.body for d in receiver.received}
    assert all(verify_signature(body, _signature_of(receiver, body), SECRET) for body in bodies)


def _signature_of(receiver: Receiver, body: bytes) -> str:
    return next(d.headers["Polytomic-Signature"] for d in receiver.received if d.body == body)


def test_lose_mode_drops_events_and_says_which(fake: FakePolytomic, receiver: Receiver) -> None:
    fake.register_webhook(receiver.url, SECRET)
    fake.set_delivery_mode(lose=1.0)
    lost = [fake.emit_event("sync.running", {}) for _ in range(3)]
    fake.flush_deliveries()
    assert fake.lost_deliveries == ids(lost) and receiver.received == []
    assert len(fake.events) == 3  # lost on the way, still in the events API
    fake.set_delivery_mode(lose=0.5, seed=7)
    some = [fake.emit_event("sync.running", {}) for _ in range(40)]
    fake.flush_deliveries()
    dropped = set(fake.lost_deliveries) - set(ids(lost))
    assert 0 < len(dropped) < 40
    assert {b["id"] for b in receiver.bodies()} == set(ids(some)) - dropped


def test_reorder_mode_holds_a_few_and_shuffles_them(fake: FakePolytomic, receiver: Receiver) -> None:
    fake.register_webhook(receiver.url, SECRET)
    fake.set_delivery_mode(reorder=4, seed=1)
    batch = [fake.emit_event("sync.running", {"sync_id": str(i)}) for i in range(4)]
    fake.wait_for_deliveries(4, ok=True)
    delivered = [b["id"] for b in receiver.bodies()]
    assert sorted(delivered) == sorted(ids(batch)) and delivered != ids(batch)

    # Fewer than N waiting are released after `hold` seconds, still shuffled.
    fake.set_delivery_mode(reorder=10, hold=1.0, seed=2)
    receiver.received.clear()
    few = [fake.emit_event("sync.running", {"sync_id": f"few{i}"}) for i in range(3)]
    time.sleep(0.1)
    assert receiver.received == []  # held
    fake.wait_for_deliveries(7, ok=True)
    assert sorted(b["id"] for b in receiver.bodies()) == sorted(ids(few))

    # Back to reliable: what is held goes at once, in order from then on.
    fake.set_delivery_mode(reorder=10, hold=30)
    receiver.received.clear()
    held = fake.emit_event("sync.running", {"sync_id": "held"})
    fake.set_delivery_mode()
    fake.wait_for_deliveries(8, ok=True)
    ordered = [fake.emit_event("sync.running", {"sync_id": f"o{i}"}) for i in range(5)]
    fake.wait_for_deliveries(13, ok=True)
    assert [b["id"] for b in receiver.bodies()] == [held["id"], *ids(ordered)]


def test_a_long_lived_fake_stays_small(receiver: Receiver) -> None:
    """The demo runs a fake for hours: what it keeps is bounded."""
    with FakePolytomic(max_recorded=5, max_events=4) as small:
        small.register_webhook(receiver.url, SECRET)
        headers = {"Authorization": f"Bearer {small.api_key}"}
        sync = small.add_sync()
        with httpx.Client(base_url=small.url, headers=headers) as http:
            for i in range(12):
                http.post(f"/api/syncs/{sync.id}/cancel", headers={"Idempotency-Key": f"op-{i}-cancel-1"})
                small.emit_event("sync.running", {"sync_id": str(i)})
        small.flush_deliveries()
        assert len(small.requests) == 5 and small.requests[-1].idempotency_key == "op-11-cancel-1"
        assert len(small._idempotency) == 5
        assert [e["event"]["sync_id"] for e in small.events] == ["8", "9", "10", "11"]
        assert len(small.deliveries) == 4 and len(receiver.received) == 12
