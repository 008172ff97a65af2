"""A fake Polytomic API over real HTTP, for every test that talks to Polytomic.

It stands in for the remote service, so it imports no bot module outside `bot.fakes`. Answers follow the
shapes in /work/shared/polytomic (API.md, the SDK's JSON Schemas and the OpenAPI export):
`tests/integration/test_fake_polytomic_schemas.py` checks them against those schemas.

    with FakePolytomic() as fake:                      # 127.0.0.1, ephemeral port
        sync = fake.add_sync(name="Contacts to Salesforce")
        run = sync.start_execution(rows_per_second=500)
        ...  # point the code under test at fake.url with fake.api_key
        assert fake.effective_cancels(sync.id) == 1
        assert run.status == "canceled"

Executions live on a real (monotonic) clock, evaluated lazily on each request: a run is
`queued` for `pending_for` seconds, then `running`; it may end on its own (`outcome`,
`after`); a cancel makes it `canceling` and, `cancel_delay` seconds later, `cancel_outcome`.

Assumptions where the contract is silent (kept deliberately strict so bugs show up):
- a cancel for a sync or execution with nothing active answers 200 (`acted_on` is None);
- starting a paused sync answers 400; an Idempotency-Key reused for a different request
  answers 422; a malformed Idempotency-Key answers 400;
- answers produced by injected faults are not stored for idempotent replay (they model a
  gateway failing before Polytomic saw the request), real answers (incl. 4xx) are.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_API_KEY",
    "TERMINAL_STATUSES",
    "FakeExecution",
    "FakePolytomic",
    "FakeSync",
    "RecordedRequest",
    "fake_polytomic",
    "retry_after_date",
    "rfc3339",
]

log = logging.getLogger("bot.fakes.polytomic")

DEFAULT_API_KEY = "test-polytomic-key"
PENDING_STATUSES = frozenset({"created", "scheduled", "queued", "waiting"})
RUNNING_STATUSES = frozenset({"running", "processing"})
ACTIVE_STATUSES = PENDING_STATUSES | RUNNING_STATUSES | {"canceling"}
TERMINAL_STATUSES = frozenset({"canceled", "completed", "failed", "interrupted"})
CANCEL_MESSAGE = "Cancellation requested"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,255}")
_MAX_PAGE = 50


def rfc3339(ts: float) -> str:
    """Unix time -> RFC 3339 UTC with microseconds ("2025-09-18T10:11:12.123456Z")."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"status": status, "message": message}


def _parse_bool(value: str) -> bool | None:
    # As lenient as Go's strconv.ParseBool; anything else is answered with a 400.
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


# --------------------------------------------------------------------------- recording


@dataclass
class RecordedRequest:
    """One request as the fake saw it. `path` is the raw (still percent-encoded) path."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float
    status: int | None = None  # what the fake answered; None: not yet, or connection dropped
    answered: bool = False  # True once the answer (or the drop) is decided
    replay: bool = False  # answered from the idempotency store: no effect
    fault: bool = False  # answered (or dropped) by injected fault
    acted_on: str | None = None  # cancel/start: the execution it hit or created
    query_all: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def idempotency_key(self) -> str | None:
        return self.header("Idempotency-Key")

    @property
    def segments(self) -> list[str]:
        """Decoded path segments: /api/syncs/a%2Fb -> ['api', 'syncs', 'a/b']."""
        return [unquote(s) for s in self.path.split("/")[1:]]

    @property
    def is_cancel(self) -> bool:
        seg = self.segments
        return (
            self.method == "POST"
            and seg[:2] == ["api", "syncs"]
            and (
                (len(seg) == 4 and seg[3] == "cancel")
                or (len(seg) == 6 and seg[3:6:2] == ["executions", "cancel"])
            )
        )

    @property
    def effective(self) -> bool:
        """Processed by the fake Polytomic (200), not a replay, not an injected fault."""
        return self.status == 200 and not self.replay and not self.fault


@dataclass
class _Fault:
    method: str | None
    pattern: re.Pattern[str]
    times: int
    status: int | None = None  # None: drop the connection
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in (None, method) and bool(self.pattern.search(path))


@dataclass
class _Latency:
    method: str | None
    pattern: re.Pattern[str]
    seconds: float


@dataclass
class _Stored:
    method: str
    path: str
    status: int | None = None  # None while the first request is still being processed
    body: dict[str, Any] | None = None


# --------------------------------------------------------------------------- state


class FakeExecution:
    """One run of a FakeSync. Read `status`/`counts` any time; they follow the clock."""

    def __init__(
        self,
        fake: FakePolytomic,
        sync: FakeSync,
        *,
        status: str,
        outcome: str | None,
        after: float | None,
        cancel_delay: float | None,
        cancel_outcome: str,
        rows_per_second: float,
        errors: list[str] | None,
        pending_for: float,
        type: str,
        created_mono: float,
    ) -> None:
        if status not in ACTIVE_STATUSES:
            raise ValueError(f"status must be one of {sorted(ACTIVE_STATUSES)}")
        if outcome is not None and outcome not in TERMINAL_STATUSES:
            raise ValueError(f"outcome must be one of {sorted(TERMINAL_STATUSES)}")
        if (outcome is None) != (after is None):
            raise ValueError("give both outcome and after, or neither")
        if cancel_outcome not in TERMINAL_STATUSES:
            raise ValueError(f"cancel_outcome must be one of {sorted(TERMINAL_STATUSES)}")
        self._fake = fake
        self.sync = sync
        self.id = str(uuid.uuid4())
        self.type = type
        self.running_status = status
        self.outcome = outcome
        self.after = after
        self.cancel_delay = cancel_delay
        self.cancel_outcome = cancel_outcome
        self.rows_per_second = rows_per_second
        self.errors = list(errors or [])
        self.pending_for = pending_for
        self.created_mono = created_mono
        self.cancel_requested_mono: float | None = None
        self._final: str | None = None
        self._final_mono: float | None = None
        self._fixed_rows: int | None = None

    def __repr__(self) -> str:
        return f"FakeExecution(id={self.id!r}, status={self.status!r})"

    # -- the clock

    def _settle(self, now: float) -> tuple[str, float | None]:
        """(status, end time) at `now`; records the end once reached, so it never moves."""
        if self._final is not None:
            return self._final, self._final_mono
        if self.cancel_requested_mono is not None:
            if self.cancel_delay is not None and now >= self.cancel_requested_mono + self.cancel_delay:
                self._end(self.cancel_outcome, self.cancel_requested_mono + self.cancel_delay)
                return self._settle(now)
            return "canceling", None
        if self.outcome is not None and self.after is not None and now >= self.created_mono + self.after:
            self._end(self.outcome, self.created_mono + self.after)
            return self._settle(now)
        if now < self.created_mono + self.pending_for:
            return "queued", None
        return self.running_status, None

    def _end(self, status: str, at: float) -> None:
        self._final, self._final_mono = status, at

    def _started_mono(self, now: float) -> float | None:
        _, end = self._settle(now)
        start = self.created_mono + self.pending_for
        horizon = end if end is not None else now
        if self.running_status not in RUNNING_STATUSES or horizon < start:
            return None
        if self.cancel_requested_mono is not None and self.cancel_requested_mono < start:
            return None  # canceled while still queued: it never ran
        return start

    def _rows(self, now: float) -> int:
        if self._fixed_rows is not None:
            return self._fixed_rows
        start = self._started_mono(now)
        if start is None:
            return 0
        _, end = self._settle(now)
        horizon = end if end is not None else now
        return max(0, int(self.rows_per_second * (horizon - start)))

    def _is_active(self, now: float) -> bool:
        return self._settle(now)[0] not in TERMINAL_STATUSES

    def _request_cancel(self, now: float) -> bool:
        """True when the cancel found the run active (it acted)."""
        if not self._is_active(now):
            return False
        if self.cancel_requested_mono is None:
            self.cancel_requested_mono = now
        return True

    def _to_json(self, now: float) -> dict[str, Any]:
        status, end = self._settle(now)
        started = self._started_mono(now)
        rows = self._rows(now)
        update = rows // 3
        errors = (self.errors or ["Sync failed"]) if status == "failed" else []
        return {
            "id": self.id,
            "status": status,
            "type": self.type,
            "created_at": rfc3339(self._fake._wall(self.created_mono)),
            "started_at": rfc3339(self._fake._wall(started)) if started is not None else None,
            "completed_at": rfc3339(self._fake._wall(end)) if end is not None else None,
            "counts": {
                "insert": rows - update,
                "update": update,
                "delete": 0,
                "upserts": 0,
                "error": len(errors),
                "warnings": 0,
                "total": rows,
            },
            "errors": errors,
        }

    # -- for tests

    @property
    def status(self) -> str:
        with self._fake._lock:
            return self._settle(time.monotonic())[0]

    @property
    def is_active(self) -> bool:
        with self._fake._lock:
            return self._is_active(time.monotonic())

    @property
    def ended_at(self) -> float | None:
        """When (Unix time) the run turned terminal, None while it is active."""
        with self._fake._lock:
            _, end = self._settle(time.monotonic())
            return None if end is None else self._fake._wall(end)

    @property
    def cancel_requested(self) -> bool:
        with self._fake._lock:
            return self.cancel_requested_mono is not None

    @property
    def rows(self) -> int:
        with self._fake._lock:
            return self._rows(time.monotonic())

    def as_json(self) -> dict[str, Any]:
        """What GET .../executions/{id} answers right now."""
        with self._fake._lock:
            return self._to_json(time.monotonic())

    def finish(self, status: str = "completed", *, errors: list[str] | None = None) -> None:
        """End the run now (no-op when it already ended)."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(TERMINAL_STATUSES)}")
        with self._fake._lock:
            now = time.monotonic()
            if self._is_active(now):
                if errors is not None:
                    self.errors = list(errors)
                self._end(status, now)
                self._fake._cond.notify_all()

    def cancel(self) -> bool:
        """A cancel from elsewhere (e.g. Polytomic's UI), not recorded as a request."""
        with self._fake._lock:
            return self._request_cancel(time.monotonic())


class FakeSync:
    """A model sync. `start_options` are the start_execution() keyword arguments used for
    runs started through POST /api/syncs/{id}/executions."""

    def __init__(
        self,
        fake: FakePolytomic,
        sync_id: str,
        name: str,
        *,
        active: bool,
        mode: str,
        target_connection_id: str,
        target_object: str,
        frequency: str,
        next_run_in: float | None,
        now: float,
    ) -> None:
        self._fake = fake
        self.id = sync_id
        self.name = name
        self.active = active
        self.mode = mode
        self.target_connection_id = target_connection_id
        self.target_object = target_object
        self.frequency = frequency
        self.next_run_in = next_run_in
        self.model_id = str(uuid.uuid4())
        self.created_mono = now
        self.updated_mono = now
        self._next_mono = now + next_run_in if next_run_in is not None else None
        self.executions: list[FakeExecution] = []
        self.start_options: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"FakeSync(id={self.id!r}, name={self.name!r})"

    def start_execution(
        self,
        *,
        status: str = "running",
        outcome: str | None = None,
        after: float | None = None,
        cancel_delay: float | None = 0.5,
        cancel_outcome: str = "canceled",
        rows_per_second: float = 100.0,
        errors: list[str] | None = None,
        pending_for: float = 0.0,
        type: str = "scheduled",
    ) -> FakeExecution:
        """Start a run now. Like Polytomic, a sync has at most one active run at a time."""
        with self._fake._lock:
            return self._start(
                time.monotonic(),
                status=status,
                outcome=outcome,
                after=after,
                cancel_delay=cancel_delay,
                cancel_outcome=cancel_outcome,
                rows_per_second=rows_per_second,
                errors=errors,
                pending_for=pending_for,
                type=type,
            )

    def _start(self, now: float, **options: Any) -> FakeExecution:
        if self._current(now) is not None:
            raise RuntimeError(f"sync {self.id} already has an active execution")
        execution = FakeExecution(self._fake, self, created_mono=now, **options)
        self.executions.append(execution)
        self._fake._cond.notify_all()
        return execution

    def add_past_execution(
        self,
        status: str = "completed",
        *,
        ago: float = 3600.0,
        duration: float = 60.0,
        rows: int = 1000,
        errors: list[str] | None = None,
        type: str = "scheduled",
    ) -> FakeExecution:
        """A finished run (history): created `ago` seconds ago, it lasted `duration` seconds."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(TERMINAL_STATUSES)}")
        with self._fake._lock:
            created = time.monotonic() - ago
            execution = FakeExecution(
                self._fake,
                self,
                status="running",
                outcome=None,
                after=None,
                cancel_delay=None,
                cancel_outcome="canceled",
                rows_per_second=0.0,
                errors=errors,
                pending_for=0.0,
                type=type,
                created_mono=created,
            )
            execution._fixed_rows = rows
            execution._end(status, created + duration)
            self.executions.append(execution)
            self.executions.sort(key=lambda e: e.created_mono)
            return execution

    def set_active(self, active: bool) -> None:
        with self._fake._lock:
            self._set_active(active, time.monotonic())

    def _set_active(self, active: bool, now: float) -> None:
        if active and not self.active and self.next_run_in is not None:
            self._next_mono = now + self.next_run_in
        self.active = active
        self.updated_mono = now

    def _current(self, now: float) -> FakeExecution | None:
        for execution in reversed(self.executions):
            if execution._is_active(now):
                return execution
        return None

    def _last(self, now: float) -> FakeExecution | None:
        for execution in reversed(self.executions):
            if not execution._is_active(now):
                return execution
        return None

    @property
    def current_execution(self) -> FakeExecution | None:
        with self._fake._lock:
            return self._current(time.monotonic())

    @property
    def last_execution(self) -> FakeExecution | None:
        with self._fake._lock:
            return self._last(time.monotonic())

    def _actor(self) -> dict[str, Any]:
        return {"id": self._fake.user_id, "name": "Fake User", "type": "user"}

    def _get_json(self) -> dict[str, Any]:
        """GET /api/syncs/{id}: the ModelSyncV5Response shape (nested target)."""
        wall = self._fake._wall
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "mode": self.mode,
            "organization_id": self._fake.organization_id,
            "model_ids": [self.model_id],
            "target": {"connection_id": self.target_connection_id, "object": self.target_object},
            "schedule": {"frequency": self.frequency},
            "fields": [
                {"target": "Email", "source": {"model_id": self.model_id, "field": "email"}, "new": False}
            ],
            "identity": {
                "function": "Equality",
                "source": {"model_id": self.model_id, "field": "email"},
                "target": "Email",
                "new_field": False,
            },
            "filters": [],
            "overrides": [],
            "override_fields": [],
            "policies": [],
            "only_enrich_updates": False,
            "skip_initial_backfill": False,
            "sync_all_records": False,
            "created_at": rfc3339(wall(self.created_mono)),
            "updated_at": rfc3339(wall(self.updated_mono)),
            "created_by": self._actor(),
            "updated_by": self._actor(),
        }

    def _list_json(self) -> dict[str, Any]:
        """An item of GET /api/syncs: the ListSyncItem shape (flat target)."""
        wall = self._fake._wall
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "mode": self.mode,
            "organization_id": self._fake.organization_id,
            "model_ids": [self.model_id],
            "target_connection_id": self.target_connection_id,
            "target_object": self.target_object,
            "schedule": {"frequency": self.frequency},
            "only_enrich_updates": False,
            "skip_initial_backfill": False,
            "sync_all_records": False,
            "created_at": rfc3339(wall(self.created_mono)),
            "updated_at": rfc3339(wall(self.updated_mono)),
            "created_by": self._actor(),
            "updated_by": self._actor(),
        }

    def _status_json(self, now: float) -> dict[str, Any]:
        current, last = self._current(now), self._last(now)
        scheduled = self.active and self._next_mono is not None and self.frequency != "manual"
        return {
            "current_execution": current._to_json(now) if current else None,
            "last_execution": last._to_json(now) if last else None,
            "next_execution_time": rfc3339(self._fake._wall(self._next_mono))
            if scheduled and self._next_mono is not None
            else None,
        }


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePolytomic


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections, as they would in production
    server_version = "FakePolytomic/1.0"
    timeout = 10  # idle keep-alive connections give their thread back
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake polytomic: " + format, *args)

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (e.g. its timeout fired): nothing to answer
            self.close_connection = True

    def drop(self) -> None:
        """Close without answering; linger 0 turns the close into a TCP reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


_Answer = tuple[int, dict[str, Any]]


class FakePolytomic:
    """The fake server. Thread-safe: one lock guards all state (`_lock`)."""

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        deployment_key: str | None = None,
        organization_id: str | None = None,
        organization_name: str = "Fake Org",
    ) -> None:
        self.api_key = api_key
        self.deployment_key = deployment_key
        self.organization_id = organization_id or str(uuid.uuid4())
        self.organization_name = organization_name
        self.user_id = str(uuid.uuid4())
        self.user_email = "fake-user@example.com"
        self.identity: dict[str, Any] | None = None  # set to override GET /api/me's data
        self.executions_page_size = _MAX_PAGE
        self.internal_errors: list[str] = []  # bugs in the fake itself; assert it stays empty
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._syncs: dict[str, FakeSync] = {}
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._latencies: list[_Latency] = []
        self._idempotency: dict[str, _Stored] = {}
        self._page_tokens: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
        self._connections: set[socket.socket] = set()
        self._wall0, self._mono0 = time.time(), time.monotonic()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakePolytomic:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-polytomic", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handler threads parked on keep-alive reads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakePolytomic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakePolytomic is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wall(self, mono: float) -> float:
        return self._wall0 + (mono - self._mono0)

    # -- syncs

    def add_sync(
        self,
        sync_id: str | None = None,
        name: str = "Fake sync",
        *,
        active: bool = True,
        mode: str = "updateOrCreate",
        target_connection_id: str | None = None,
        target_object: str = "Contact",
        frequency: str = "hourly",
        next_run_in: float | None = 3600,
    ) -> FakeSync:
        with self._lock:
            sync_id = sync_id or str(uuid.uuid4())
            if sync_id in self._syncs:
                raise ValueError(f"sync {sync_id} already exists")
            sync = FakeSync(
                self,
                sync_id,
                name,
                active=active,
                mode=mode,
                target_connection_id=target_connection_id or str(uuid.uuid4()),
                target_object=target_object,
                frequency=frequency,
                next_run_in=next_run_in,
                now=time.monotonic(),
            )
            self._syncs[sync_id] = sync
            return sync

    def sync(self, sync_id: str) -> FakeSync:
        with self._lock:
            return self._syncs[sync_id]

    @property
    def syncs(self) -> list[FakeSync]:
        with self._lock:
            return list(self._syncs.values())

    def delete_sync(self, sync_id: str) -> None:
        """Model a sync deleted in Polytomic: afterwards everything about it is a 404."""
        with self._lock:
            del self._syncs[sync_id]

    # -- recorded requests

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def requests_to(self, method: str | None, path_regex: str) -> list[RecordedRequest]:
        """Requests whose method matches (None: any) and raw path matches (re.search)."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self._requests if method in (None, r.method) and pattern.search(r.path)]

    def cancel_requests(self, sync_id: str | None = None) -> list[RecordedRequest]:
        """Every POST to either cancel endpoint (all attempts, faults and replays included)."""
        with self._lock:
            return [
                r for r in self._requests if r.is_cancel and (sync_id is None or r.segments[2] == sync_id)
            ]

    def effective_cancels(self, sync_id: str | None = None) -> int:
        """Cancels Polytomic processed: answered 200, neither an idempotent replay nor a fault."""
        return sum(1 for r in self.cancel_requests(sync_id) if r.effective)

    def wait_for_requests(
        self,
        method: str | None,
        path_regex: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        answered: bool = True,
    ) -> list[RecordedRequest]:
        """Block until `count` matching requests arrived (and were answered); TimeoutError else."""
        pattern = re.compile(path_regex)

        def matching() -> list[RecordedRequest]:
            return [
                r
                for r in self._requests
                if method in (None, r.method) and pattern.search(r.path) and (r.answered or not answered)
            ]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise TimeoutError(
                    f"{len(matching())}/{count} requests to {method} {path_regex} after {timeout}s"
                )
            return matching()

    def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, interval: float = 0.02
    ) -> None:
        """Poll `predicate` (e.g. lambda: run.status == 'canceled') until true; TimeoutError else."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    # -- fault injection

    def inject(
        self,
        method: str | None,
        path_regex: str,
        *,
        status: int,
        times: int = 1,
        body: bytes | str | dict[str, Any] | None = None,
        retry_after: float | str | None = None,
        latency: float = 0.0,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching requests (re.search on the raw path) with `status`.

        body: dict -> JSON; bytes/str -> sent as is (text/plain unless content_type says e.g.
        text/html); None -> the documented `{"status", "message"}`. A 429 carries
        `Retry-After: 1` unless retry_after is given ('' sends none; a str such as an HTTP
        date is sent verbatim). Faults happen before auth and idempotency (a gateway failing).
        """
        if body is None:
            raw = json.dumps(_error_body(status, HTTPStatus(status).phrase)).encode()
            ctype = content_type or "application/json"
        elif isinstance(body, dict):
            raw, ctype = json.dumps(body).encode(), content_type or "application/json"
        else:
            raw = body.encode() if isinstance(body, str) else body
            ctype = content_type or "text/plain; charset=utf-8"
        extra = dict(headers or {})
        if retry_after is None and status == 429:
            retry_after = 1
        if retry_after not in (None, ""):
            if isinstance(retry_after, float) and retry_after.is_integer():
                retry_after = int(retry_after)
            extra["Retry-After"] = str(retry_after)
        with self._lock:
            self._faults.append(
                _Fault(method, re.compile(path_regex), times, status, raw, ctype, extra, latency)
            )

    def fail_connection(self, path_regex: str, times: int = 1, *, method: str | None = None) -> None:
        """Reset the connection (no answer at all) for the next `times` matching requests."""
        with self._lock:
            self._faults.append(_Fault(method, re.compile(path_regex), times, None))

    def set_latency(self, seconds: float, path_regex: str = ".*", *, method: str | None = None) -> None:
        """Delay every matching answer by `seconds` (0 removes it). For POSTs the delay is
        processing time: the Idempotency-Key is already taken while it runs."""
        with self._lock:
            self._latencies = [
                lat for lat in self._latencies if (lat.method, lat.pattern.pattern) != (method, path_regex)
            ]
            if seconds > 0:
                self._latencies.append(_Latency(method, re.compile(path_regex), seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latencies.clear()

    # -- serving

    def _finish(self, record: RecordedRequest, status: int | None) -> None:
        with self._lock:
            record.status = status
            record.answered = True
            self._cond.notify_all()

    def _serve(self, handler: _Handler) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        path = split.path
        query_all = parse_qs(split.query, keep_blank_values=True)
        try:
            body = handler.read_body()
        except (ValueError, OSError):
            handler.close_connection = True
            body = b""
        record = RecordedRequest(
            method=method,
            path=path,
            query={k: v[0] for k, v in query_all.items()},
            headers=dict(handler.headers.items()),
            body=body,
            time=time.time(),
            query_all=query_all,
        )
        with self._lock:
            self._requests.append(record)
            self._cond.notify_all()
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is not None:
                fault.times -= 1
                record.fault = True

        if fault is not None:
            if fault.latency:
                time.sleep(fault.latency)
            # Recorded before the client can see the answer, so a test reading `requests`
            # right after its call returns always sees the final status.
            self._finish(record, fault.status)
            if fault.status is None:
                handler.drop()
            else:
                handler.send(fault.status, fault.body, fault.content_type, fault.headers)
            return

        try:
            status, answer = self._answer(record)
        except Exception as exc:  # a bug in the fake must show up as a 500, not a hang
            log.exception("fake polytomic crashed on %s %s", method, path)
            with self._lock:
                self.internal_errors.append(f"{method} {path}: {exc!r}")
            status, answer = 500, _error_body(500, f"fake polytomic error: {exc!r}")
        self._finish(record, status)
        handler.send(status, json.dumps(answer).encode(), "application/json")

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and self.api_key:
            return secrets.compare_digest(credentials.strip().encode(), self.api_key.encode())
        if scheme.lower() == "basic" and self.deployment_key:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except ValueError:
                return False
            expected = f"{self.organization_id}:{self.deployment_key}"
            return secrets.compare_digest(decoded.encode(), expected.encode())
        return False

    def _latency_for(self, method: str, path: str) -> float:
        with self._lock:
            return max(
                (
                    lat.seconds
                    for lat in self._latencies
                    if lat.method in (None, method) and lat.pattern.search(path)
                ),
                default=0.0,
            )

    def _answer(self, record: RecordedRequest) -> _Answer:
        if not self._authorized(record.header("Authorization")):
            return 401, _error_body(401, "invalid or missing API key")
        key = record.idempotency_key if record.method == "POST" else None
        if key is None:
            if delay := self._latency_for(record.method, record.path):
                time.sleep(delay)
            with self._lock:
                return self._route(record)

        if not _IDEMPOTENCY_KEY.fullmatch(key):
            return 400, _error_body(400, "Idempotency-Key must be 8-255 characters of [A-Za-z0-9_-]")
        with self._lock:
            stored = self._idempotency.get(key)
            if stored is not None:
                if (stored.method, stored.path) != (record.method, record.path):
                    return 422, _error_body(422, "Idempotency-Key was already used for a different request")
                if stored.status is None or stored.body is None:
                    return 409, _error_body(409, "a request with this Idempotency-Key is in progress")
                record.replay = True
                return stored.status, stored.body
            stored = self._idempotency[key] = _Stored(record.method, record.path)
        try:
            if delay := self._latency_for(record.method, record.path):
                time.sleep(delay)
            with self._lock:
                status, answer = self._route(record)
                stored.status, stored.body = status, answer
                return status, answer
        finally:
            with self._lock:
                if stored.status is None:  # crashed: let a retry try again
                    self._idempotency.pop(key, None)

    # -- routes (called with the lock held)

    def _route(self, record: RecordedRequest) -> _Answer:
        method, seg, now = record.method, record.segments, time.monotonic()
        if seg == ["api", "me"]:
            return (200, {"data": self._identity(record)}) if method == "GET" else self._not_allowed()
        if seg[:2] != ["api", "syncs"] or len(seg) < 2:
            return 404, _error_body(404, "not found")
        if len(seg) == 2:
            return self._list_syncs(record) if method == "GET" else self._not_allowed()
        sync = self._syncs.get(seg[2])
        if sync is None:
            return 404, _error_body(404, "sync not found")
        rest = seg[3:]
        if rest == []:
            return (200, {"data": sync._get_json()}) if method == "GET" else self._not_allowed()
        if rest == ["status"]:
            return (200, {"data": sync._status_json(now)}) if method == "GET" else self._not_allowed()
        if rest == ["cancel"]:
            if method != "POST":
                return self._not_allowed()
            current = sync._current(now)
            if current is not None and current._request_cancel(now):
                record.acted_on = current.id
            return 200, {"data": {"message": CANCEL_MESSAGE}}
        if rest == ["activate"]:
            if method != "POST":
                return self._not_allowed()
            payload = record.json
            if not isinstance(payload, dict) or not isinstance(payload.get("active"), bool):
                return 400, _error_body(400, 'body must be {"active": true|false}')
            sync._set_active(payload["active"], now)
            return 200, {"data": {"id": sync.id, "active": sync.active}}
        if rest == ["executions"]:
            if method == "GET":
                return self._list_executions(record, sync, now)
            if method == "POST":
                return self._start(record, sync, now)
            return self._not_allowed()
        if len(rest) in (2, 3) and rest[0] == "executions":
            execution = next((e for e in sync.executions if e.id == rest[1]), None)
            if execution is None:
                return 404, _error_body(404, "execution not found")
            if len(rest) == 2:
                return (200, {"data": execution._to_json(now)}) if method == "GET" else self._not_allowed()
            if rest[2] == "cancel":
                if method != "POST":
                    return self._not_allowed()
                if execution._request_cancel(now):
                    record.acted_on = execution.id
                return 200, {"data": {"message": CANCEL_MESSAGE}}
        return 404, _error_body(404, "not found")

    @staticmethod
    def _not_allowed() -> _Answer:
        return 405, _error_body(405, "method not allowed")

    def _identity(self, record: RecordedRequest) -> dict[str, Any]:
        if self.identity is not None:
            return dict(self.identity)
        base = {
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "is_partner": False,
            "is_system": False,
        }
        if (record.header("Authorization") or "").lower().startswith("basic "):
            # Non-user keys: no user id/email/role, the flags say what the key is.
            return {**base, "is_user": False, "is_organization": True}
        return {
            **base,
            "id": self.user_id,
            "email": self.user_email,
            "role": "admin",
            "is_user": True,
            "is_organization": False,
        }

    def _start(self, record: RecordedRequest, sync: FakeSync, now: float) -> _Answer:
        payload = record.json if record.body else {}
        if not isinstance(payload, dict):
            return 400, _error_body(400, "body must be a JSON object")
        if not sync.active:
            return 400, _error_body(400, "sync is not active")
        if sync._current(now) is not None:
            return 409, _error_body(409, "sync is already running")
        options: dict[str, Any] = {
            "status": "running",
            "outcome": None,
            "after": None,
            "cancel_delay": 0.5,
            "cancel_outcome": "canceled",
            "rows_per_second": 100.0,
            "errors": None,
            "pending_for": 0.0,
            "type": "manual",
            **sync.start_options,
        }
        execution = sync._start(now, **options)
        record.acted_on = execution.id
        state = execution._to_json(now)
        return 200, {
            "data": {"id": state["id"], "status": state["status"], "created_at": state["created_at"]}
        }

    def _page(
        self,
        record: RecordedRequest,
        kind: str,
        items: list[tuple[tuple[Any, ...], dict[str, Any]]],
        limit: int,
    ) -> _Answer:
        """Keyset pagination over (sort key, item) pairs already sorted; opaque tokens."""
        token = record.query.get("page_token")
        start = 0
        if token:
            saved = self._page_tokens.get(token)
            if saved is None or saved[0] != kind or saved[1] != record.path:
                return 400, _error_body(400, "invalid page_token")
            last = saved[2]
            start = next((i for i, (k, _) in enumerate(items) if k > last), len(items))
        chunk = items[start : start + limit]
        pagination: dict[str, Any] = {}
        if start + limit < len(items) and chunk:
            new = secrets.token_urlsafe(18)
            self._page_tokens[new] = (kind, record.path, chunk[-1][0])
            pagination["next_page_token"] = new
        return 200, {"data": [item for _, item in chunk], "pagination": pagination}

    def _list_syncs(self, record: RecordedRequest) -> _Answer:
        q = record.query
        limit = _MAX_PAGE
        if q.get("limit"):
            try:
                limit = int(q["limit"])
            except ValueError:
                return 400, _error_body(400, "limit must be an integer")
            limit = _MAX_PAGE if limit <= 0 else min(limit, _MAX_PAGE)
        syncs = list(self._syncs.values())
        if "active" in q:
            active = _parse_bool(q["active"])
            if active is None:
                return 400, _error_body(400, "active must be a boolean")
            syncs = [s for s in syncs if s.active is active]
        if q.get("mode"):
            syncs = [s for s in syncs if s.mode == q["mode"]]
        if q.get("target_connection_id"):
            syncs = [s for s in syncs if s.target_connection_id == q["target_connection_id"]]
        # Polytomic orders by updated_at descending, id as tiebreaker.
        items = sorted((((-s.updated_mono, s.id), s._list_json()) for s in syncs), key=lambda kv: kv[0])
        return self._page(record, "syncs", items, limit)

    def _list_executions(self, record: RecordedRequest, sync: FakeSync, now: float) -> _Answer:
        q = record.query
        flags: dict[str, bool] = {}
        for name in ("only_completed", "ascending"):
            if name in q:
                value = _parse_bool(q[name])
                if value is None:
                    return 400, _error_body(400, f"{name} must be a boolean")
                flags[name] = value
        executions = list(sync.executions)
        if flags.get("only_completed"):
            executions = [e for e in executions if not e._is_active(now)]
        sign = 1 if flags.get("ascending") else -1
        items = sorted(
            (((sign * e.created_mono, e.id), e._to_json(now)) for e in executions), key=lambda kv: kv[0]
        )
        kind = "executions-asc" if sign == 1 else "executions"
        return self._page(record, kind, items, self.executions_page_size)


def fake_polytomic(**kwargs: Any) -> Iterator[FakePolytomic]:
    """Generator for a pytest fixture: `fake = pytest.fixture(fake_polytomic)` or
    `@pytest.fixture def fake(): yield from fake_polytomic()`."""
    with FakePolytomic(**kwargs) as fake:
        yield fake


def retry_after_date(seconds: float) -> str:
    """An HTTP-date `seconds` from now, for inject(retry_after=...)."""
    return formatdate(time.time() + seconds, usegmt=True)


if __name__ == "__main__":  # python -m bot.fakes.polytomic: a fake to poke at by hand
    logging.basicConfig(level=logging.DEBUG)
    with FakePolytomic() as server:
        demo = server.add_sync(name="Demo: Contacts to Salesforce")
        demo.start_execution(rows_per_second=250)
        server.add_sync(name="Demo: paused", active=False).add_past_execution("failed")
        print(f"fake Polytomic at {server.url}  key={server.api_key}  running sync={demo.id}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
