"""The fake Polytomic must answer what the real one would: every answer it gives over real
HTTP is validated against the SDK's JSON Schemas (shared/polytomic/schemas-from-sdk-*.json)
and, where they say more, the OpenAPI export (formats such as uuid, non-null fields).

The SDK schemas are written to accept anything in enum fields (`anyOf: [enum, {}, null]`)
and unknown properties; `strict()` (tests/schemas.py) removes that slack so a wrong status, a
mistyped field or an invented property fails here instead of making later tests lie. Events,
webhooks and connections are checked in test_fake_polytomic_events.py.
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from bot.fakes.polytomic import FakePolytomic
from tests.schemas import FORMATS, check_openapi, openapi_validator, sdk_schemas, sdk_validator

# GET /api/me is not in shared/: this is GetIdentityResponseEnvelope from Polytomic's
# identity API reference (api-evangelist/polytomic, polytomic-subpackage-identity-api-openapi).
IDENTITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "data": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "email": {"type": "string"},
                "id": {"type": "string", "format": "uuid"},
                "is_organization": {"type": "boolean"},
                "is_partner": {"type": "boolean"},
                "is_system": {"type": "boolean"},
                "is_user": {"type": "boolean"},
                "organization_id": {"type": "string", "format": "uuid"},
                "organization_name": {"type": "string"},
                "role": {"type": "string"},
            },
        }
    },
    "required": ["data"],
}


def check(name: str, response: httpx.Response, status: int = 200) -> Any:
    """Assert the HTTP status and that the body validates; return the parsed body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    sdk_validator(name).validate(body)
    if name == "ApiError":
        assert body["status"] == status
        assert isinstance(body["message"], str) and body["message"]
    return body


def check_execution(execution: dict[str, Any]) -> None:
    """An execution object also satisfies the OpenAPI schema (uuid id, non-null fields)."""
    check_openapi("GetExecutionResponseSchema", execution)


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic() as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def http(fake: FakePolytomic) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake.api_key}", "X-Polytomic-Version": "2025-09-18"}
    with httpx.Client(base_url=fake.url, headers=headers, timeout=5) as client:
        yield client


# ----------------------------------------------------------------- the strict schemas bite


def test_strict_schemas_reject_what_the_sdk_schemas_let_through() -> None:
    good = {
        "data": {
            "id": "5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11",
            "status": "running",
            "created_at": "2025-09-18T10:00:00.123456Z",
            "counts": {"insert": 1, "total": 1},
            "errors": [],
        }
    }
    validator = sdk_validator("GetExecutionResponseEnvelope")
    validator.validate(good)
    loose = jsonschema.Draft202012Validator(sdk_schemas()["GetExecutionResponseEnvelope"])
    for path, bad in [
        (("status",), "cancelled"),  # not in the enum
        (("status",), 3),
        (("counts", "insert"), "1"),  # wrong type
        (("created_at",), "18/09/2025 10:00"),  # not RFC 3339
        (("created_at",), "2025-13-45T10:00:00Z"),
        (("errors",), "boom"),
        (("invented_field",), True),  # the fake must not invent properties
    ]:
        broken = copy.deepcopy(good)
        target = broken["data"]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = bad
        assert not validator.is_valid(broken), (path, bad)
        if path in (("status",), ("invented_field",)):
            assert loose.is_valid(broken), "the SDK schema alone would have accepted this"
    check_openapi("GetExecutionResponseSchema", good["data"])
    assert not openapi_validator("GetExecutionResponseSchema").is_valid({**good["data"], "id": "e-1"})


# ----------------------------------------------------------------- a realistic life


def test_get_sync_and_list_syncs_with_pagination_and_filters(fake: FakePolytomic, http: httpx.Client) -> None:
    created = [
        fake.add_sync(name=f"sync {i}", active=i % 3 != 0, mode="create" if i % 2 else "updateOrCreate")
        for i in range(7)
    ]

    for sync in created:
        body = check("ModelSyncV5ResponseEnvelope", http.get(f"/api/syncs/{sync.id}"))
        check_openapi("SyncResponse", body["data"])
        assert body["data"]["id"] == sync.id
        assert body["data"]["target"] == {"connection_id": sync.target_connection_id, "object": "Contact"}
        assert body["data"]["schedule"]["frequency"] == "hourly"

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"limit": "3", **({"page_token": token} if token else {})}
        body = check("ListSyncResponseEnvelope", http.get("/api/syncs", params=params))
        check_openapi("ListSyncResponseEnvelope", body)
        pages += 1
        assert len(body["data"]) <= 3
        for item in body["data"]:
            assert "target" not in item  # list items are flat
            assert item["target_connection_id"] and item["target_object"] == "Contact"
        seen += [item["id"] for item in body["data"]]
        token = body["pagination"].get("next_page_token")
        if not token:
            break
    assert pages == 3
    assert sorted(seen) == sorted(s.id for s in created)
    # ordered by updated_at descending: the newest sync first
    assert seen[0] == created[-1].id

    paused = check("ListSyncResponseEnvelope", http.get("/api/syncs", params={"active": "false"}))
    assert {i["id"] for i in paused["data"]} == {s.id for s in created if not s.active}
    assert all(i["active"] is False for i in paused["data"])
    creates = check("ListSyncResponseEnvelope", http.get("/api/syncs", params={"mode": "create"}))
    assert {i["id"] for i in creates["data"]} == {s.id for s in created if s.mode == "create"}
    by_target = http.get("/api/syncs", params={"target_connection_id": created[2].target_connection_id})
    assert [i["id"] for i in check("ListSyncResponseEnvelope", by_target)["data"]] == [created[2].id]

    check("ApiError", http.get("/api/syncs", params={"page_token": "made-up"}), 400)
    check("ApiError", http.get("/api/syncs", params={"active": "maybe"}), 400)


def test_list_limit_is_capped_at_50(fake: FakePolytomic, http: httpx.Client) -> None:
    for i in range(53):
        fake.add_sync(name=f"s{i}")
    first = check("ListSyncResponseEnvelope", http.get("/api/syncs", params={"limit": "500"}))
    assert len(first["data"]) == 50
    default = check("ListSyncResponseEnvelope", http.get("/api/syncs", params={"limit": "0"}))
    assert len(default["data"]) == 50
    rest = check(
        "ListSyncResponseEnvelope",
        http.get("/api/syncs", params={"page_token": first["pagination"]["next_page_token"]}),
    )
    assert len(rest["data"]) == 3
    assert "next_page_token" not in rest["pagination"]
    assert not {i["id"] for i in first["data"]} & {i["id"] for i in rest["data"]}


def test_status_and_executions_through_a_cancel(fake: FakePolytomic, http: httpx.Client) -> None:
    sync = fake.add_sync(name="Contacts")
    old_ok = sync.add_past_execution("completed", ago=7200, rows=1234)
    old_bad = sync.add_past_execution("failed", ago=3600, errors=["Salesforce: INVALID_FIELD"])

    idle = check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))["data"]
    assert idle["current_execution"] is None
    assert idle["last_execution"]["id"] == old_bad.id
    assert idle["last_execution"]["status"] == "failed"
    assert idle["last_execution"]["errors"] == ["Salesforce: INVALID_FIELD"]
    assert idle["next_execution_time"] is not None
    check_execution(idle["last_execution"])

    run = sync.start_execution(pending_for=0.2, rows_per_second=1000, cancel_delay=0.3)
    queued = check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))["data"]
    assert queued["current_execution"]["id"] == run.id
    assert queued["current_execution"]["status"] == "queued"
    assert queued["current_execution"]["started_at"] is None
    check_execution(queued["current_execution"])

    time.sleep(0.3)
    running = check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))["data"][
        "current_execution"
    ]
    assert running["status"] == "running"
    assert running["started_at"] is not None
    assert running["counts"]["total"] > 0
    check_execution(running)

    check(
        "CancelSyncResponseEnvelope",
        http.post(f"/api/syncs/{sync.id}/cancel", headers={"Idempotency-Key": "op-1-cancel-1"}),
    )
    canceling = check("GetExecutionResponseEnvelope", http.get(f"/api/syncs/{sync.id}/executions/{run.id}"))[
        "data"
    ]
    assert canceling["status"] == "canceling"
    assert canceling["completed_at"] is None
    check_execution(canceling)

    time.sleep(0.35)
    done = check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))["data"]
    assert done["current_execution"] is None
    assert done["last_execution"]["id"] == run.id
    assert done["last_execution"]["status"] == "canceled"
    assert done["last_execution"]["completed_at"] is not None
    frozen = done["last_execution"]["counts"]["total"]
    time.sleep(0.05)
    again = check("GetExecutionResponseEnvelope", http.get(f"/api/syncs/{sync.id}/executions/{run.id}"))[
        "data"
    ]
    assert again["counts"]["total"] == frozen  # counts stop at the end

    listed = check("ListExecutionResponseEnvelope", http.get(f"/api/syncs/{sync.id}/executions"))
    check_openapi("ListExecutionResponseEnvelope", listed)
    assert [e["id"] for e in listed["data"]] == [run.id, old_bad.id, old_ok.id]  # newest first
    ascending = http.get(f"/api/syncs/{sync.id}/executions", params={"ascending": "true"})
    assert [e["id"] for e in check("ListExecutionResponseEnvelope", ascending)["data"]] == [
        old_ok.id,
        old_bad.id,
        run.id,
    ]
    for execution in listed["data"]:
        check_execution(execution)


def test_executions_pagination_and_only_completed(fake: FakePolytomic, http: httpx.Client) -> None:
    fake.executions_page_size = 2
    sync = fake.add_sync()
    past = [sync.add_past_execution("completed", ago=100 - i) for i in range(3)]
    live = sync.start_execution()
    ids: list[str] = []
    token = None
    while True:
        params = {"page_token": token} if token else {}
        body = check(
            "ListExecutionResponseEnvelope", http.get(f"/api/syncs/{sync.id}/executions", params=params)
        )
        ids += [e["id"] for e in body["data"]]
        token = body["pagination"].get("next_page_token")
        if not token:
            break
    assert ids == [live.id] + [e.id for e in reversed(past)]
    completed = http.get(f"/api/syncs/{sync.id}/executions", params={"only_completed": "true"})
    assert live.id not in [e["id"] for e in check("ListExecutionResponseEnvelope", completed)["data"]]


def test_runs_ending_on_their_own_and_a_cancel_that_lands_too_late(
    fake: FakePolytomic, http: httpx.Client
) -> None:
    sync = fake.add_sync()
    failing = sync.start_execution(outcome="failed", after=0.15, errors=["Timeout talking to Snowflake"])
    time.sleep(0.2)
    body = check("GetExecutionResponseEnvelope", http.get(f"/api/syncs/{sync.id}/executions/{failing.id}"))
    assert body["data"]["status"] == "failed"
    assert body["data"]["errors"] == ["Timeout talking to Snowflake"]
    assert body["data"]["counts"]["error"] == 1

    late = sync.start_execution(cancel_delay=0.1, cancel_outcome="completed")
    check(
        "CancelSyncResponseEnvelope",
        http.post(
            f"/api/syncs/{sync.id}/executions/{late.id}/cancel", headers={"Idempotency-Key": "op-2-cancel-1"}
        ),
    )
    assert late.status == "canceling"
    time.sleep(0.15)
    assert (
        check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))["data"]["last_execution"][
            "status"
        ]
        == "completed"
    )


def test_start_conflict_activate_and_paused(fake: FakePolytomic, http: httpx.Client) -> None:
    sync = fake.add_sync()
    started = check(
        "StartSyncResponseEnvelope",
        http.post(f"/api/syncs/{sync.id}/executions", json={}, headers={"Idempotency-Key": "op-3-start-1"}),
    )
    check_openapi("StartSyncResponseEnvelope", started)
    assert set(started["data"]) == {"id", "status", "created_at"}
    assert sync.current_execution is not None and sync.current_execution.id == started["data"]["id"]
    assert sync.current_execution.type == "manual"

    busy = http.post(
        f"/api/syncs/{sync.id}/executions", json={"resync": True}, headers={"Idempotency-Key": "op-3-start-2"}
    )
    check("ApiError", busy, 409)

    paused = http.post(
        f"/api/syncs/{sync.id}/activate", json={"active": False}, headers={"Idempotency-Key": "op-3-pause-1"}
    )
    assert paused.status_code == 200
    check_openapi("ActivateSyncEnvelope", paused.json())
    assert paused.json() == {"data": {"id": sync.id, "active": False}}
    assert sync.current_execution is not None  # pausing does not stop the run
    status = check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))["data"]
    assert status["next_execution_time"] is None

    sync.current_execution.finish("completed")
    check("ApiError", http.post(f"/api/syncs/{sync.id}/executions", json={}), 400)  # paused
    check("ApiError", http.post(f"/api/syncs/{sync.id}/activate", json={"active": "no"}), 400)


def test_error_bodies_are_api_errors(fake: FakePolytomic, http: httpx.Client) -> None:
    sync = fake.add_sync()
    missing = "00000000-0000-4000-8000-000000000000"
    check("ApiError", http.get(f"/api/syncs/{missing}"), 404)
    check("ApiError", http.get(f"/api/syncs/{missing}/status"), 404)
    check("ApiError", http.post(f"/api/syncs/{missing}/cancel"), 404)
    check("ApiError", http.get(f"/api/syncs/{sync.id}/executions/{missing}"), 404)
    check("ApiError", http.post(f"/api/syncs/{sync.id}/executions/{missing}/cancel"), 404)
    check("ApiError", http.get("/api/syncs", headers={"Authorization": "Bearer wrong"}), 401)
    check("ApiError", http.get("/api/syncs", headers={"Authorization": ""}), 401)
    check("ApiError", http.post(f"/api/syncs/{sync.id}/cancel", headers={"Idempotency-Key": "short"}), 400)

    fake.inject("GET", r"/status$", status=500)
    fake.inject("GET", r"/status$", status=429)
    fake.inject("GET", r"/status$", status=403)
    check("ApiError", http.get(f"/api/syncs/{sync.id}/status"), 500)
    limited = http.get(f"/api/syncs/{sync.id}/status")
    check("ApiError", limited, 429)
    assert limited.headers["Retry-After"] == "1"
    check("ApiError", http.get(f"/api/syncs/{sync.id}/status"), 403)
    check("SyncStatusEnvelope", http.get(f"/api/syncs/{sync.id}/status"))  # faults consumed


def test_identity_for_bearer_and_basic_keys() -> None:
    with FakePolytomic(
        deployment_key="deploy-key", organization_id="7c1e2a40-77a1-4f4e-a3b1-0e8b2c3d4e5f"
    ) as fake:
        user = httpx.get(f"{fake.url}/api/me", headers={"Authorization": f"Bearer {fake.api_key}"})
        assert user.status_code == 200
        jsonschema.Draft202012Validator(IDENTITY_SCHEMA, format_checker=FORMATS).validate(user.json())
        assert user.json()["data"]["is_user"] is True
        assert user.json()["data"]["email"]

        token = base64.b64encode(f"{fake.organization_id}:deploy-key".encode()).decode()
        org = httpx.get(f"{fake.url}/api/me", headers={"Authorization": f"Basic {token}"})
        assert org.status_code == 200
        jsonschema.Draft202012Validator(IDENTITY_SCHEMA, format_checker=FORMATS).validate(org.json())
        assert org.json()["data"]["is_organization"] is True
        assert "id" not in org.json()["data"]  # omitted for non-user callers
        assert org.json()["data"]["organization_id"] == fake.organization_id

        wrong = base64.b64encode(f"{fake.organization_id}:nope".encode()).decode()
        check("ApiError", httpx.get(f"{fake.url}/api/me", headers={"Authorization": f"Basic {wrong}"}), 401)


def test_idempotency_replays_and_rejects_reuse(fake: FakePolytomic, http: httpx.Client) -> None:
    sync = fake.add_sync()
    run = sync.start_execution(cancel_delay=None)
    key = {"Idempotency-Key": "op-20-cancel-1"}
    first = check(
        "CancelSyncResponseEnvelope",
        http.post(f"/api/syncs/{sync.id}/executions/{run.id}/cancel", headers=key),
    )
    again = check(
        "CancelSyncResponseEnvelope",
        http.post(f"/api/syncs/{sync.id}/executions/{run.id}/cancel", headers=key),
    )
    assert first == again == {"data": {"message": "Cancellation requested"}}
    [one, two] = fake.cancel_requests(sync.id)
    assert (one.replay, one.acted_on) == (False, run.id)
    assert (two.replay, two.acted_on) == (True, None)
    # The same key on another request is a caller bug; the fake refuses it loudly.
    check("ApiError", http.post(f"/api/syncs/{sync.id}/cancel", headers=key), 422)
    assert fake.effective_cancels(sync.id) == 1
