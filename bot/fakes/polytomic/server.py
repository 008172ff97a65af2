"""FakePolytomic: the fake Polytomic API server, its knobs for tests, and its routes.

One lock guards all state. Requests are recorded (RecordedRequest), may be failed or slowed on
purpose (inject, fail_connection, set_latency), and are answered from the state in runs.py
(syncs and runs), connections.py, events.py and webhooks.py. A clock thread settles runs when
they come due, so their events are emitted (and delivered to the webhook) on time even when
nobody asks. Choices where the contract is silent are listed in the package docstring.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import copy
import heapq
import itertools
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.fakes.polytomic.common import (
    DEFAULT_API_KEY,
    IDEMPOTENCY_KEY,
    MAX_PAGE,
    Answer,
    error_body,
    log,
)
from bot.fakes.polytomic.connections import FakeConnection
from bot.fakes.polytomic.events import EventLog, EventsOrder, model_sync_payload, new_event
from bot.fakes.polytomic.plumbing import Handler, Server
from bot.fakes.polytomic.recording import Fault, Latency, RecordedRequest, Stored
from bot.fakes.polytomic.routes import route
from bot.fakes.polytomic.syncs import FakeExecution, FakeSync
from bot.fakes.polytomic.webhooks import Deliverer, DeliveryAttempt, FakeWebhook, SignatureEncoding

__all__ = ["FakePolytomic", "fake_polytomic", "retry_after_date"]


class FakePolytomic:
    """The fake server. Thread-safe: one lock guards all state (`_lock`).

    Event and webhook knobs (see the package docstring): `events_order`, `event_retention`,
    `max_events`; `signature_encoding`, `delivery_retry_base`, `delivery_max_retries`,
    `delivery_timeout`, `set_delivery_mode()`; `emit_event()`, `register_webhook()`."""

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        deployment_key: str | None = None,
        organization_id: str | None = None,
        organization_name: str = "Fake Org",
        events_order: EventsOrder = "descending",
        event_retention: float = 48 * 3600.0,
        max_events: int = 10_000,
        signature_encoding: SignatureEncoding = "hex",
        delivery_retry_base: float = 0.1,
        delivery_max_retries: int = 5,
        delivery_timeout: float = 5.0,
        delivery_concurrency: int = 1,
        max_recorded: int = 200_000,
    ) -> None:
        """`max_recorded` bounds what a long-lived fake (the demo) keeps: recorded requests,
        idempotent answers and page tokens, oldest dropped first; events and deliveries are
        bounded by `max_events`."""
        self.api_key = api_key
        self.deployment_key = deployment_key
        self.organization_id = organization_id or str(uuid.uuid4())
        self.organization_name = organization_name
        self.user_id = str(uuid.uuid4())
        self.user_email = "fake-user@example.com"
        self.identity: dict[str, Any] | None = None  # set to override GET /api/me's data
        self.executions_page_size = MAX_PAGE
        self.internal_errors: list[str] = []  # bugs in the fake itself; assert it stays empty
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._syncs: dict[str, FakeSync] = {}
        self._max_recorded = max_recorded
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_recorded)
        self._faults: list[Fault] = []
        self._latencies: list[Latency] = []
        self._idempotency: dict[str, Stored] = {}
        self._page_tokens: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
        self._sockets: set[socket.socket] = set()
        self._wall0, self._mono0 = time.time(), time.monotonic()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        # The clock: (due time, seq, run or sync) for every state change that may come due.
        self._clock_cond = threading.Condition(self._lock)
        self._clock: list[tuple[float, int, FakeExecution | FakeSync]] = []
        self._clock_seq = itertools.count()
        self._clock_thread: threading.Thread | None = None
        self._stopping = False
        # Events, connections and the webhook.
        self.events_order = events_order
        self._events = EventLog(retention=event_retention, max_events=max_events)
        self._last_emit = 0.0
        self._connections: dict[str, FakeConnection] = {}
        self._webhook: FakeWebhook | None = None
        self.signature_encoding: SignatureEncoding = signature_encoding
        self._deliverer = Deliverer(
            retry_base=delivery_retry_base,
            max_retries=delivery_max_retries,
            timeout=delivery_timeout,
            concurrency=delivery_concurrency,
            max_records=max_events,
        )

    # -- lifecycle

    def start(self) -> FakePolytomic:
        if self._server is not None:
            return self
        server = Server(("127.0.0.1", 0), Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-polytomic", daemon=True
        )
        self._thread.start()
        with self._lock:
            self._stopping = False
            self._clock_thread = threading.Thread(
                target=self._run_clock, name="fake-polytomic-clock", daemon=True
            )
            self._clock_thread.start()
        self._deliverer.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        with self._lock:
            self._stopping = True
            clock, self._clock_thread = self._clock_thread, None
            self._clock_cond.notify_all()
        if clock is not None:
            clock.join(timeout=5)
        self._deliverer.stop()
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for conn in sockets:  # wake handler threads parked on keep-alive reads
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

    # -- the clock: runs end, and scheduled runs start, when due even if nobody asks

    def _wake(self, what: FakeExecution | FakeSync) -> None:
        """Arm the clock for every time `what` may next change state. Lock held."""
        for when in what._deadlines():
            heapq.heappush(self._clock, (when, next(self._clock_seq), what))
        self._clock_cond.notify_all()

    def _run_clock(self) -> None:
        with self._clock_cond:
            while not self._stopping:
                now = time.monotonic()
                while self._clock and self._clock[0][0] <= now:
                    _, _, what = heapq.heappop(self._clock)
                    try:
                        what._tick(now)
                    except Exception as exc:  # a bug in the fake must show, not stop the clock
                        log.exception("fake polytomic clock crashed on %r", what)
                        self.internal_errors.append(f"clock {what!r}: {exc!r}")
                timeout = self._clock[0][0] - now if self._clock else None
                self._clock_cond.wait(timeout)

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

    # -- connections

    def add_connection(
        self,
        name: str,
        type_id: str = "salesforce",
        *,
        connection_id: str | None = None,
        type_name: str | None = None,
        status: str = "healthy",
        status_error: str | None = None,
        parent_connection_id: str | None = None,
    ) -> FakeConnection:
        """A connection syncs can write to: `add_sync(target_connection_id=conn.id)`."""
        with self._lock:
            connection = FakeConnection(
                name=name,
                type_id=type_id,
                organization_id=self.organization_id,
                created_wall=time.time(),
                actor={"id": self.user_id, "name": "Fake User", "type": "user"},
                type_name=type_name,
                status=status,
                status_error=status_error,
                parent_connection_id=parent_connection_id,
            )
            if connection_id:
                connection.id = connection_id
            if connection.id in self._connections:
                raise ValueError(f"connection {connection.id} already exists")
            self._connections[connection.id] = connection
            return connection

    def connection(self, connection_id: str) -> FakeConnection:
        with self._lock:
            return self._connections[connection_id]

    @property
    def connections(self) -> list[FakeConnection]:
        with self._lock:
            return list(self._connections.values())

    def delete_connection(self, connection_id: str) -> None:
        with self._lock:
            del self._connections[connection_id]

    # -- events

    @property
    def events_order(self) -> EventsOrder:
        """The order GET /api/events sorts in (Polytomic does not document it): the first
        `limit` events in this order are answered. Set it to test the bot against either."""
        return self._events_order

    @events_order.setter
    def events_order(self, order: EventsOrder) -> None:
        if order not in ("ascending", "descending"):
            raise ValueError("events_order must be 'ascending' or 'descending'")
        self._events_order = order

    @property
    def event_retention(self) -> float:
        return self._events.retention

    @event_retention.setter
    def event_retention(self, seconds: float) -> None:
        with self._lock:
            self._events.retention = seconds
            self._events.prune(time.time())

    @property
    def max_events(self) -> int:
        return self._events.max_events

    @max_events.setter
    def max_events(self, count: int) -> None:
        with self._lock:
            self._events.max_events = count
            self._events.prune(time.time())

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event kept, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._events.all())

    def events_for(self, execution_id: str | None = None, *, type: str | None = None) -> list[dict[str, Any]]:
        """The kept events of one run and/or one type, oldest first (copies)."""
        return [
            e
            for e in self.events
            if (execution_id is None or e["event"].get("execution_id") == execution_id)
            and (type is None or e["type"] == type)
        ]

    def emit_event(self, type: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record (and deliver, when a webhook is registered) an event of any type with any
        payload: bulk-sync events, a type Polytomic may add, a payload missing fields. Runs
        of model syncs emit theirs on their own."""
        with self._lock:
            return copy.deepcopy(self._emit(type, dict(payload or {}), time.monotonic()))

    def wait_for_event(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first kept event for which predicate(event) is true; TimeoutError else."""
        with self._cond:
            found: list[dict[str, Any]] = []

            def seen() -> bool:
                found[:] = [e for e in self._events.all() if predicate(e)]
                return bool(found)

            if not self._cond.wait_for(seen, timeout):
                raise TimeoutError(f"no matching event within {timeout}s")
            return copy.deepcopy(found[0])

    def _announce(self, execution: FakeExecution, type_: str | None, now: float) -> None:
        """A run changed state (runs.py calls this, lock held): emit its event."""
        if type_ is None:
            return
        sync = execution.sync
        payload = model_sync_payload(
            type_,
            organization_id=self.organization_id,
            sync_id=sync.id,
            sync_name=sync.name,
            target_connection_id=sync.target_connection_id,
            frequency=sync.frequency,
            execution=execution._to_json(now),
        )
        self._emit(type_, payload, now)

    def _emit(self, type_: str, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # Stamped as it is emitted, never before the previous one: the log stays in order.
        now = max(now, self._last_emit)
        self._last_emit = now
        wall = self._wall(now)
        event = new_event(type_, payload, organization_id=self.organization_id, wall=wall)
        self._events.append(event, wall)
        hook = self._webhook
        if hook is not None and not hook.disabled:
            self._deliverer.submit(event, hook.endpoint, hook.secret, self.signature_encoding)
        self._cond.notify_all()
        return event

    # -- the webhook and its deliveries

    @property
    def webhook(self) -> FakeWebhook | None:
        with self._lock:
            return self._webhook

    def register_webhook(self, endpoint: str, secret: str) -> FakeWebhook:
        """Set the organization's webhook directly (as POST /api/webhooks would, but also
        when one exists: it is replaced). Deliveries start with the next event."""
        with self._lock:
            self._webhook = FakeWebhook(endpoint, secret, self.organization_id, time.time())
            return self._webhook

    def remove_webhook(self) -> None:
        with self._lock:
            self._webhook = None

    def set_delivery_mode(
        self,
        *,
        duplicate: float = 0.0,
        lose: float = 0.0,
        reorder: int = 0,
        hold: float = 0.5,
        seed: int | None = None,
    ) -> None:
        """Make deliveries unreliable, from now on: `duplicate`/`lose` are the shares of
        events sent twice / never sent (1.0: all); `reorder=N` holds events until N wait (or
        `hold` seconds pass) and sends them shuffled; `seed` makes it repeatable. No
        arguments: reliable again (held events are sent at once)."""
        self._deliverer.set_mode(duplicate=duplicate, lose=lose, reorder=reorder, hold=hold, seed=seed)

    @property
    def delivery_retry_base(self) -> float:
        """Seconds before the first retry of a failed delivery; each next one waits twice as long."""
        return self._deliverer.retry_base

    @delivery_retry_base.setter
    def delivery_retry_base(self, seconds: float) -> None:
        self._deliverer.retry_base = seconds

    @property
    def delivery_max_retries(self) -> int:
        return self._deliverer.max_retries

    @delivery_max_retries.setter
    def delivery_max_retries(self, count: int) -> None:
        self._deliverer.max_retries = count

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far (the latest `max_events`), in the order they ended."""
        return self._deliverer.attempts

    @property
    def lost_deliveries(self) -> list[str]:
        """Ids of the events a `lose` mode never delivered."""
        return self._deliverer.lost

    def clear_deliveries(self) -> None:
        self._deliverer.clear()

    def wait_for_deliveries(
        self,
        count: int = 1,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
        ok: bool | None = None,
        timeout: float = 5.0,
    ) -> list[DeliveryAttempt]:
        """Block until `count` matching attempts ended (ok=True: answered 2xx; False: not);
        return them. TimeoutError else."""

        def matching(attempts: list[DeliveryAttempt]) -> list[DeliveryAttempt]:
            return [
                a
                for a in attempts
                if (event_id is None or a.event_id == event_id)
                and (event_type is None or a.event_type == event_type)
                and (ok is None or a.ok is ok)
            ]

        if not self._deliverer.wait(lambda attempts: len(matching(attempts)) >= count, timeout):
            got = len(matching(self._deliverer.attempts))
            raise TimeoutError(f"{got}/{count} matching deliveries after {timeout}s")
        return matching(self._deliverer.attempts)

    def flush_deliveries(self, timeout: float = 10.0) -> None:
        """Block until no delivery is queued, held, retrying or in flight; TimeoutError else."""
        if not self._deliverer.wait_idle(timeout):
            raise TimeoutError(f"deliveries still pending after {timeout}s")

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
            raw = json.dumps(error_body(status, HTTPStatus(status).phrase)).encode()
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
                Fault(method, re.compile(path_regex), times, status, raw, ctype, extra, latency)
            )

    def fail_connection(self, path_regex: str, times: int = 1, *, method: str | None = None) -> None:
        """Reset the connection (no answer at all) for the next `times` matching requests."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path_regex), times, None))

    def set_latency(self, seconds: float, path_regex: str = ".*", *, method: str | None = None) -> None:
        """Delay every matching answer by `seconds` (0 removes it). For POSTs the delay is
        processing time: the Idempotency-Key is already taken while it runs."""
        with self._lock:
            self._latencies = [
                lat for lat in self._latencies if (lat.method, lat.pattern.pattern) != (method, path_regex)
            ]
            if seconds > 0:
                self._latencies.append(Latency(method, re.compile(path_regex), seconds))

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

    def _serve(self, handler: Handler) -> None:
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
            status, answer = 500, error_body(500, f"fake polytomic error: {exc!r}")
        self._finish(record, status)
        handler.send(status, b"" if answer is None else json.dumps(answer).encode(), "application/json")

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

    def _answer(self, record: RecordedRequest) -> Answer:
        if not self._authorized(record.header("Authorization")):
            return 401, error_body(401, "invalid or missing API key")
        # Polytomic takes the key on every write (the SDK sends it on POST, PUT and DELETE).
        key = record.idempotency_key if record.method != "GET" else None
        if key is None:
            if delay := self._latency_for(record.method, record.path):
                time.sleep(delay)
            with self._lock:
                return route(self, record)

        if not IDEMPOTENCY_KEY.fullmatch(key):
            return 400, error_body(400, "Idempotency-Key must be 8-255 characters of [A-Za-z0-9_-]")
        with self._lock:
            stored = self._idempotency.get(key)
            if stored is not None:
                if (stored.method, stored.path) != (record.method, record.path):
                    return 422, error_body(422, "Idempotency-Key was already used for a different request")
                if not stored.done:
                    return 409, error_body(409, "a request with this Idempotency-Key is in progress")
                record.replay = True
                return stored.status, stored.body
            stored = self._idempotency[key] = Stored(record.method, record.path)
            while len(self._idempotency) > self._max_recorded:  # the oldest key goes first
                del self._idempotency[next(iter(self._idempotency))]
        try:
            if delay := self._latency_for(record.method, record.path):
                time.sleep(delay)
            with self._lock:
                status, answer = route(self, record)
                stored.status, stored.body, stored.done = status, answer, True
                return status, answer
        finally:
            with self._lock:
                if not stored.done:  # crashed: let a retry try again
                    self._idempotency.pop(key, None)


def fake_polytomic(**kwargs: Any) -> Iterator[FakePolytomic]:
    """Generator for a pytest fixture: `fake = pytest.fixture(fake_polytomic)` or
    `@pytest.fixture def fake(): yield from fake_polytomic()`."""
    with FakePolytomic(**kwargs) as fake:
        yield fake


def retry_after_date(seconds: float) -> str:
    """An HTTP-date `seconds` from now, for inject(retry_after=...)."""
    return formatdate(time.time() + seconds, usegmt=True)
