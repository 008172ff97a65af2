"""The fake Polytomic's webhook: the organization's one registration (FakeWebhook) and the
deliveries that POST each event to it (Deliverer).

Deliveries behave as Polytomic's guide describes them: each event is POSTed once, signed with
`Polytomic-Signature` (an HMAC-SHA256 of the exact body, keyed with the webhook's secret; the
encoding, which Polytomic does not document, is a knob: "hex", "sha256=hex" or "base64"); a
non-2xx answer, a refused connection or a timeout is retried up to `max_retries` (5) times
with exponential backoff from `retry_base` seconds; a 2xx is never followed by another copy.
They run on their own threads, so an API handler never waits for an endpoint.

Modes, settable at any time (`set_mode`), make the delivery as unreliable as the guide allows:
`lose` drops that share of events before any attempt, `duplicate` sends that share twice, and
`reorder=N` holds events back until N are waiting (or `hold` seconds passed) and releases them
shuffled. A seeded random generator makes a run repeatable. Every attempt is recorded
(DeliveryAttempt), the latest `max_records` of them.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from bot.fakes.polytomic.common import log, rfc3339

__all__ = ["Deliverer", "DeliveryAttempt", "FakeWebhook", "SignatureEncoding", "signature"]

SignatureEncoding = Literal["hex", "sha256=hex", "base64"]
_ENCODINGS = ("hex", "sha256=hex", "base64")


def signature(body: bytes, secret: str, encoding: SignatureEncoding) -> str:
    """The Polytomic-Signature value for `body`: HMAC-SHA256 keyed with `secret`, encoded."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if encoding == "hex":
        return digest.hex()
    if encoding == "sha256=hex":
        return f"sha256={digest.hex()}"
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    raise ValueError(f"encoding must be one of {_ENCODINGS}")


@dataclass
class FakeWebhook:
    """The organization's webhook. `disabled`: events are neither delivered nor queued."""

    endpoint: str
    secret: str
    organization_id: str
    created_wall: float
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    disabled: bool = False
    disabled_wall: float | None = None
    disabled_reason: str | None = None

    def __repr__(self) -> str:  # the secret is a credential even in a fake
        return f"FakeWebhook(id={self.id!r}, endpoint={self.endpoint!r}, disabled={self.disabled})"

    def to_json(self) -> dict[str, Any]:
        """The Webhook shape (SDK `Webhook`): reads return the secret, as Polytomic's do."""
        body: dict[str, Any] = {
            "id": self.id,
            "organization_id": self.organization_id,
            "endpoint": self.endpoint,
            "secret": self.secret,
            "disabled": self.disabled,
            "created_at": rfc3339(self.created_wall),
        }
        if self.disabled_wall is not None:
            body["disabled_at"] = rfc3339(self.disabled_wall)
        if self.disabled_reason:
            body["disabled_reason"] = self.disabled_reason
        return body


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of one event. `attempt` counts from 1 (a retry is 2, ...); `copy` is 1 for
    the extra copy a `duplicate` mode sends; `status` is what the endpoint answered, None when
    it did not (refused, reset, timed out: `error` says which)."""

    event_id: str
    event_type: str
    attempt: int
    copy: int
    sent_at: float
    finished_at: float
    status: int | None
    error: str | None
    endpoint: str
    signature: str
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Job:
    event_id: str
    event_type: str
    endpoint: str
    body: bytes
    signature: str
    copy: int = 0
    attempt: int = 1


class Deliverer:
    """POSTs events to the webhook from its own threads. Thread-safe."""

    def __init__(
        self,
        *,
        retry_base: float = 0.1,
        max_retries: int = 5,
        timeout: float = 5.0,
        concurrency: int = 1,
        max_records: int = 10_000,
    ) -> None:
        self.retry_base = retry_base
        self.max_retries = max_retries
        self.timeout = timeout
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._due: list[tuple[float, int, _Job]] = []  # (when, seq, job), a heap
        self._held: list[_Job] = []
        self._held_since: float | None = None
        self._busy = 0
        self._seq = itertools.count()
        self._attempts: collections.deque[DeliveryAttempt] = collections.deque(maxlen=max_records)
        self._lost: collections.deque[str] = collections.deque(maxlen=max_records)
        self.duplicate = 0.0
        self.lose = 0.0
        self.reorder = 0
        self.hold = 0.5
        self._random = random.Random()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._http: httpx.Client | None = None

    # -- lifecycle

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="fake-polytomic-delivery")
            self._thread = threading.Thread(target=self._run, name="fake-polytomic-deliveries", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            thread, pool, client = self._thread, self._pool, self._http
            self._stopping = True
            self._thread = self._pool = self._http = None
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=5)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()

    # -- modes

    def set_mode(
        self,
        *,
        duplicate: float = 0.0,
        lose: float = 0.0,
        reorder: int = 0,
        hold: float = 0.5,
        seed: int | None = None,
    ) -> None:
        if not (0.0 <= duplicate <= 1.0 and 0.0 <= lose <= 1.0):
            raise ValueError("duplicate and lose are shares: 0.0 to 1.0")
        if reorder < 0 or hold <= 0:
            raise ValueError("reorder must be >= 0 and hold > 0")
        with self._cond:
            self.duplicate, self.lose, self.reorder, self.hold = duplicate, lose, reorder, hold
            if seed is not None:
                self._random.seed(seed)
            if reorder == 0 and self._held:
                self._release_held(time.monotonic())
            self._cond.notify_all()

    # -- the queue

    def submit(self, event: dict[str, Any], endpoint: str, secret: str, encoding: SignatureEncoding) -> None:
        """Queue one event for delivery; returns at once."""
        # Compact separators, as Go's encoding/json writes; the signature covers these bytes.
        body = json.dumps(event, separators=(",", ":")).encode()
        job = _Job(
            str(event.get("id")), str(event.get("type")), endpoint, body, signature(body, secret, encoding)
        )
        with self._cond:
            if self._random.random() < self.lose:
                self._lost.append(job.event_id)
                return
            jobs = [job]
            if self._random.random() < self.duplicate:
                jobs.append(_Job(job.event_id, job.event_type, endpoint, body, job.signature, copy=1))
            now = time.monotonic()
            if self.reorder > 0:
                if not self._held:
                    self._held_since = now
                self._held.extend(jobs)
                if len(self._held) >= self.reorder:
                    self._release_held(now)
            else:
                for item in jobs:
                    self._push(now, item)
            self._cond.notify_all()

    def _push(self, when: float, job: _Job) -> None:
        heapq.heappush(self._due, (when, next(self._seq), job))

    def _release_held(self, now: float) -> None:
        held, self._held, self._held_since = self._held, [], None
        shuffled = list(held)
        self._random.shuffle(shuffled)
        if len(held) > 1 and shuffled == held:  # a shuffle may change nothing: make sure it does
            shuffled = shuffled[1:] + shuffled[:1]
        for job in shuffled:
            self._push(now, job)

    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._held and self._held_since is not None and now >= self._held_since + self.hold:
                    self._release_held(now)
                while self._due and self._due[0][0] <= now and self._busy < self.concurrency:
                    _, _, job = heapq.heappop(self._due)
                    self._busy += 1
                    assert self._pool is not None
                    try:
                        self._pool.submit(self._post, job)
                    except RuntimeError:  # the pool is shutting down
                        self._busy -= 1
                        return
                waits = []
                if self._due and self._busy < self.concurrency:
                    waits.append(self._due[0][0] - now)
                if self._held and self._held_since is not None:
                    waits.append(self._held_since + self.hold - now)
                self._cond.wait(max(0.0, min(waits)) if waits else None)

    def _post(self, job: _Job) -> None:
        client = self._http
        started_wall = time.time()
        status: int | None = None
        error: str | None = None
        try:
            if client is None:
                raise RuntimeError("stopped")
            response = client.post(
                job.endpoint,
                content=job.body,
                headers={
                    "Content-Type": "application/json",
                    "Polytomic-Signature": job.signature,
                    "User-Agent": "Go-http-client/1.1",  # what Polytomic's Go services send
                },
            )
            status = response.status_code
        except (httpx.HTTPError, RuntimeError) as exc:
            error = type(exc).__name__
        finished = time.time()
        attempt = DeliveryAttempt(
            event_id=job.event_id,
            event_type=job.event_type,
            attempt=job.attempt,
            copy=job.copy,
            sent_at=started_wall,
            finished_at=finished,
            status=status,
            error=error,
            endpoint=job.endpoint,
            signature=job.signature,
            body=job.body,
        )
        with self._cond:
            self._attempts.append(attempt)
            self._busy -= 1
            if not attempt.ok and job.attempt <= self.max_retries and not self._stopping:
                delay = self.retry_base * 2 ** (job.attempt - 1)
                job.attempt += 1
                self._push(time.monotonic() + delay, job)
            self._cond.notify_all()
        if not attempt.ok:
            log.debug("fake polytomic: delivery of %s -> %s (%s)", job.event_id, status, error)

    # -- for tests

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def lost(self) -> list[str]:
        """Ids of the events a `lose` mode dropped (never attempted)."""
        with self._lock:
            return list(self._lost)

    def clear(self) -> None:
        with self._lock:
            self._attempts.clear()
            self._lost.clear()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._due and not self._held and self._busy == 0

    def wait(self, predicate: Any, timeout: float) -> bool:
        """Wait until predicate(attempts) is true; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._attempts)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued, held or in flight (retries included)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._held or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True
