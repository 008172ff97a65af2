"""What each endpoint of the fake Polytomic answers: `route(fake, record)` and the handler of
each path, called by FakePolytomic._answer with the server's lock held, after auth and the
Idempotency-Key bookkeeping. The state they read and change lives on the FakePolytomic.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.fakes.polytomic.common import (
    CANCEL_MESSAGE,
    MAX_PAGE,
    Answer,
    error_body,
    parse_bool,
    parse_rfc3339_ns,
)
from bot.fakes.polytomic.events import EVENT_TYPES
from bot.fakes.polytomic.recording import RecordedRequest
from bot.fakes.polytomic.syncs import START_DEFAULTS, FakeSync
from bot.fakes.polytomic.webhooks import FakeWebhook

if TYPE_CHECKING:
    from bot.fakes.polytomic.server import FakePolytomic

__all__ = ["route"]


_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class _Refusal:
    answer: Answer


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value)


def route(fake: FakePolytomic, record: RecordedRequest) -> Answer:
    method, seg, now = record.method, record.segments, time.monotonic()
    if seg == ["api", "me"]:
        return (200, {"data": _identity(fake, record)}) if method == "GET" else _not_allowed()
    if seg == ["api", "events"]:
        return _list_events(fake, record) if method == "GET" else _not_allowed()
    if seg == ["api", "events_types"]:
        return (200, {"data": list(EVENT_TYPES)}) if method == "GET" else _not_allowed()
    if seg[:2] == ["api", "webhooks"]:
        return _route_webhooks(fake, record, seg[2:], now)
    if seg[:2] == ["api", "connections"]:
        return _route_connections(fake, record, seg[2:])
    if seg[:2] != ["api", "syncs"] or len(seg) < 2:
        return 404, error_body(404, "not found")
    if len(seg) == 2:
        return _list_syncs(fake, record) if method == "GET" else _not_allowed()
    sync = fake._syncs.get(seg[2])
    if sync is None:
        return 404, error_body(404, "sync not found")
    rest = seg[3:]
    if rest == []:
        return (200, {"data": sync._get_json()}) if method == "GET" else _not_allowed()
    if rest == ["status"]:
        return (200, {"data": sync._status_json(now)}) if method == "GET" else _not_allowed()
    if rest == ["cancel"]:
        if method != "POST":
            return _not_allowed()
        current = sync._current(now)
        if current is not None and current._request_cancel(now):
            record.acted_on = current.id
        return 200, {"data": {"message": CANCEL_MESSAGE}}
    if rest == ["activate"]:
        if method != "POST":
            return _not_allowed()
        payload = record.json
        if not isinstance(payload, dict) or not isinstance(payload.get("active"), bool):
            return 400, error_body(400, 'body must be {"active": true|false}')
        sync._set_active(payload["active"], now)
        return 200, {"data": {"id": sync.id, "active": sync.active}}
    if rest == ["executions"]:
        if method == "GET":
            return _list_executions(fake, record, sync, now)
        if method == "POST":
            return _start(fake, record, sync, now)
        return _not_allowed()
    if len(rest) in (2, 3) and rest[0] == "executions":
        execution = next((e for e in sync.executions if e.id == rest[1]), None)
        if execution is None:
            return 404, error_body(404, "execution not found")
        if len(rest) == 2:
            return (200, {"data": execution._to_json(now)}) if method == "GET" else _not_allowed()
        if rest[2] == "cancel":
            if method != "POST":
                return _not_allowed()
            if execution._request_cancel(now):
                record.acted_on = execution.id
            return 200, {"data": {"message": CANCEL_MESSAGE}}
    return 404, error_body(404, "not found")


def _list_events(fake: FakePolytomic, record: RecordedRequest) -> Answer:
    """GET /api/events. Validation answers 422, the only 4xx the SDK declares for it."""
    q = record.query
    type_ = q.get("type") or None
    if type_ is not None and type_ not in EVENT_TYPES:
        return 422, error_body(422, "type must be one of the identifiers GET /api/events_types lists")
    bounds: dict[str, int | None] = {}
    for name in ("starting_after", "ending_before"):
        raw = q.get(name)
        if not raw:
            bounds[name] = None
            continue
        parsed = parse_rfc3339_ns(raw)
        if parsed is None:
            return 422, error_body(422, f"{name} must be an RFC 3339 timestamp")
        bounds[name] = parsed
    limit = 10
    if q.get("limit"):
        if not _INTEGER.fullmatch(q["limit"]):  # as Go's strconv.Atoi: no "+5", " 5", "5_0"
            return 422, error_body(422, "limit must be an integer")
        limit = int(q["limit"])
        if not 1 <= limit <= 100:
            return 422, error_body(422, "limit must be between 1 and 100")
    fake._events.prune(time.time())
    chosen = fake._events.select(
        type_=type_,
        after_ns=bounds["starting_after"],
        before_ns=bounds["ending_before"],
        limit=limit,
        order=fake._events_order,
    )
    # Go encodes an empty (nil) slice as null, and the SDK types `data` as nullable.
    return 200, {"data": chosen or None}


def _route_webhooks(fake: FakePolytomic, record: RecordedRequest, rest: list[str], now: float) -> Answer:
    method = record.method
    if rest == []:
        if method == "GET":
            return 200, {"data": [fake._webhook.to_json()] if fake._webhook else []}
        if method != "POST":
            return _not_allowed()
        given = _webhook_input(record)
        if isinstance(given, _Refusal):
            return given.answer
        if fake._webhook is not None:
            # One per organization. The SDK declares 401, 422 and 500 for create, no 409.
            return 422, error_body(422, "the organization already has a webhook; update it instead")
        endpoint, secret = given
        fake._webhook = FakeWebhook(endpoint, secret, fake.organization_id, fake._wall(now))
        return 200, {"data": fake._webhook.to_json()}
    hook = fake._webhook
    if hook is None or rest[0] != hook.id or len(rest) > 2:
        return 404, error_body(404, "webhook not found")
    if len(rest) == 1:
        if method == "GET":
            return 200, {"data": hook.to_json()}
        if method == "PUT":
            given = _webhook_input(record)
            if isinstance(given, _Refusal):
                return given.answer
            hook.endpoint, hook.secret = given
            return 200, {"data": hook.to_json()}
        if method == "DELETE":
            fake._webhook = None
            return 200, None
        return _not_allowed()
    if rest[1] in ("disable", "enable"):
        if method != "POST":
            return _not_allowed()
        if rest[1] == "disable" and not hook.disabled:
            hook.disabled, hook.disabled_wall = True, fake._wall(now)
        elif rest[1] == "enable":
            hook.disabled, hook.disabled_wall, hook.disabled_reason = False, None, None
        return 200, {"data": hook.to_json()}
    return 404, error_body(404, "not found")


def _webhook_input(record: RecordedRequest) -> tuple[str, str] | _Refusal:
    """(endpoint, secret) from a create/update body, or the answer refusing it."""
    payload = record.json
    if not isinstance(payload, dict):
        return _Refusal((400, error_body(400, "body must be a JSON object")))
    endpoint, secret = payload.get("endpoint"), payload.get("secret")
    if not isinstance(endpoint, str) or not _is_url(endpoint):
        return _Refusal((422, error_body(422, "endpoint must be an http or https URL")))
    if not isinstance(secret, str) or not 6 <= len(secret) <= 32:
        return _Refusal((422, error_body(422, "secret must be between 6 and 32 characters")))
    return endpoint, secret


def _route_connections(fake: FakePolytomic, record: RecordedRequest, rest: list[str]) -> Answer:
    if record.method != "GET":
        return _not_allowed()
    if rest == []:
        return 200, {"data": [c.to_json() for c in fake._connections.values()]}
    connection = fake._connections.get(rest[0]) if len(rest) == 1 else None
    if connection is None:
        return 404, error_body(404, "connection not found")
    return 200, {"data": connection.to_json()}


def _not_allowed() -> Answer:
    return 405, error_body(405, "method not allowed")


def _identity(fake: FakePolytomic, record: RecordedRequest) -> dict[str, Any]:
    if fake.identity is not None:
        return dict(fake.identity)
    base = {
        "organization_id": fake.organization_id,
        "organization_name": fake.organization_name,
        "is_partner": False,
        "is_system": False,
    }
    if (record.header("Authorization") or "").lower().startswith("basic "):
        # Non-user keys: no user id/email/role, the flags say what the key is.
        return {**base, "is_user": False, "is_organization": True}
    return {
        **base,
        "id": fake.user_id,
        "email": fake.user_email,
        "role": "admin",
        "is_user": True,
        "is_organization": False,
    }


def _start(fake: FakePolytomic, record: RecordedRequest, sync: FakeSync, now: float) -> Answer:
    payload = record.json if record.body else {}
    if not isinstance(payload, dict):
        return 400, error_body(400, "body must be a JSON object")
    if not sync.active:
        return 400, error_body(400, "sync is not active")
    if sync._current(now) is not None:
        return 409, error_body(409, "sync is already running")
    execution = sync._start(now, **{**START_DEFAULTS, **sync.start_options})
    record.acted_on = execution.id
    state = execution._to_json(now)
    return 200, {"data": {"id": state["id"], "status": state["status"], "created_at": state["created_at"]}}


def _page(
    fake: FakePolytomic,
    record: RecordedRequest,
    kind: str,
    items: list[tuple[tuple[Any, ...], dict[str, Any]]],
    limit: int,
) -> Answer:
    """Keyset pagination over (sort key, item) pairs already sorted; opaque tokens."""
    token = record.query.get("page_token")
    start = 0
    endless = kind in fake._endless_pages
    if token and not endless:
        saved = fake._page_tokens.get(token)
        if saved is None or saved[0] != kind or saved[1] != record.path:
            return 400, error_body(400, "invalid page_token")
        last = saved[2]
        start = next((i for i, (k, _) in enumerate(items) if k > last), len(items))
    chunk = items[start : start + limit]
    pagination: dict[str, Any] = {}
    if endless or (start + limit < len(items) and chunk):
        new = secrets.token_urlsafe(18)
        fake._page_tokens[new] = (kind, record.path, chunk[-1][0])
        while len(fake._page_tokens) > fake._max_recorded:
            del fake._page_tokens[next(iter(fake._page_tokens))]
        pagination["next_page_token"] = new
    return 200, {"data": [item for _, item in chunk], "pagination": pagination}


def _list_syncs(fake: FakePolytomic, record: RecordedRequest) -> Answer:
    q = record.query
    limit = MAX_PAGE
    if q.get("limit"):
        try:
            limit = int(q["limit"])
        except ValueError:
            return 400, error_body(400, "limit must be an integer")
        limit = MAX_PAGE if limit <= 0 else min(limit, MAX_PAGE)
    syncs = list(fake._syncs.values())
    if "active" in q:
        active = parse_bool(q["active"])
        if active is None:
            return 400, error_body(400, "active must be a boolean")
        syncs = [s for s in syncs if s.active is active]
    if q.get("mode"):
        syncs = [s for s in syncs if s.mode == q["mode"]]
    if q.get("target_connection_id"):
        syncs = [s for s in syncs if s.target_connection_id == q["target_connection_id"]]
    # Polytomic orders by updated_at descending, id as tiebreaker.
    items = sorted((((-s.updated_mono, s.id), s._list_json()) for s in syncs), key=lambda kv: kv[0])
    return _page(fake, record, "syncs", items, limit)


def _list_executions(fake: FakePolytomic, record: RecordedRequest, sync: FakeSync, now: float) -> Answer:
    q = record.query
    flags: dict[str, bool] = {}
    for name in ("only_completed", "ascending"):
        if name in q:
            value = parse_bool(q[name])
            if value is None:
                return 400, error_body(400, f"{name} must be a boolean")
            flags[name] = value
    executions = list(sync.executions)
    if flags.get("only_completed"):
        executions = [e for e in executions if not e._is_active(now)]
    sign = 1 if flags.get("ascending") else -1
    items = sorted(
        (((sign * e.created_mono, e.id), e._to_json(now)) for e in executions), key=lambda kv: kv[0]
    )
    kind = "executions-asc" if sign == 1 else "executions"
    return _page(fake, record, kind, items, fake.executions_page_size)
