"""FakePolytomic itself: its parts put together, started and stopped, the clock that settles
runs when they come due, and every request served.

A request is recorded (what inspection.py reads), failed or slowed if a test asked (faults.py),
checked for its key, then, for a write, for its Idempotency-Key (a repeat is answered with the
first answer), and answered by routes.py from the state the other parts hold: syncs and their
runs (organization.py, syncs.py, executions.py), connections, events (event_feed.py, events.py)
and the webhook (deliveries.py, webhooks.py). A clock thread settles runs when they come due, so
their events are emitted (and delivered to the webhook) on time even when nobody asks. A bug in
the fake is answered HTTP 500 and kept in `internal_errors`. Choices where the contract is
silent are listed in the package docstring.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.fakes.polytomic.common import IDEMPOTENCY_KEY, Answer, error_body, log
from bot.fakes.polytomic.deliveries import Deliveries
from bot.fakes.polytomic.event_feed import EventFeed
from bot.fakes.polytomic.executions import FakeExecution
from bot.fakes.polytomic.faults import Faults
from bot.fakes.polytomic.inspection import Inspection
from bot.fakes.polytomic.organization import Organization
from bot.fakes.polytomic.plumbing import Handler, Server
from bot.fakes.polytomic.recording import RecordedRequest, Stored
from bot.fakes.polytomic.routes import route
from bot.fakes.polytomic.syncs import FakeSync

__all__ = ["FakePolytomic", "fake_polytomic", "retry_after_date"]


class FakePolytomic(Organization, EventFeed, Deliveries, Inspection, Faults):
    """The fake server. Thread-safe: one lock guards all state (`_lock`).

    Event and webhook knobs (see the package docstring): `events_order`, `event_retention`,
    `max_events`; `signature_encoding`, `delivery_retry_base`, `delivery_max_retries`,
    `delivery_timeout`, `set_delivery_mode()`; `emit_event()`, `register_webhook()`.

    Its constructor, with the fake's settings, is PolytomicState's (state.py); its methods are
    grouped by concept: organization.py (syncs, connections), event_feed.py, deliveries.py (the
    webhook), inspection.py (recorded requests, waiting), faults.py."""

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

    # -- serving

    def _finish(self, record: RecordedRequest, status: int | None) -> None:
        with self._lock:
            record.status = status
            record.answered = True
            record.answered_at = time.time()
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
            elif fault.drip > 0:
                handler.drip(fault.drip, fault.status, fault.body, fault.content_type, fault.headers)
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
