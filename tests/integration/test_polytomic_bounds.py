"""The Polytomic client against a server that misbehaves on the wire (issue 12): an answer
dripped a byte at a time ends at the attempt's deadline as TimedOut; an answer over the size cap,
or nested deeper than the parser goes, is a PolytomicError (never a RecursionError); an absurd
Retry-After is clamped. The fake Polytomic is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.polytomic import PolytomicClient, PolytomicError, RateLimited, ServerError, TimedOut
from bot.polytomic.bounded import MAX_ANSWER_BYTES
from bot.polytomic.errors import MAX_RETRY_AFTER, parse_retry_after

KEY = "test-key-bounds"


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic(KEY) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client(fake: FakePolytomic) -> Iterator[PolytomicClient]:
    with PolytomicClient(
        fake.url, api_key=KEY, timeout=1.0, deadline=1.5, max_retries=2, sleep=lambda s: None
    ) as client:
        yield client


def test_a_dripped_answer_ends_at_the_deadline_and_is_not_retried(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    sync = fake.add_sync()
    body = json.dumps({"data": {"id": sync.id, "status": "running", "padding": "x" * 200}})
    # A byte every 0.2 s: each read is well inside the 1 s timeout, the answer takes a minute.
    fake.inject("GET", r"/status$", status=200, body=body, content_type="application/json", drip=0.2, times=3)
    started = time.monotonic()
    with pytest.raises(TimedOut) as excinfo:
        client.sync_status(sync.id)
    elapsed = time.monotonic() - started
    assert excinfo.value.deadline is True
    assert excinfo.value.transient
    assert "within 1.5s" in excinfo.value.message
    # Bounded by the deadline, not by the drip (which would take over 50 s to finish).
    assert elapsed < 5, elapsed
    # A server that used the whole window is stuck: asking again would hold the caller as long.
    assert len(fake.requests_to("GET", r"/status$")) == 1


def test_an_answer_over_the_cap_is_an_error_not_a_memory_bill(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    sync = fake.add_sync()
    huge = b'{"data": {"name": "' + b"x" * (MAX_ANSWER_BYTES + 1) + b'"}}'
    fake.inject("GET", r"/status$", status=200, body=huge, content_type="application/json")
    with pytest.raises(PolytomicError) as excinfo:
        client.sync_status(sync.id)
    assert not excinfo.value.transient
    assert "larger than 8 MB" in excinfo.value.message


def test_a_deeply_nested_answer_is_a_polytomic_error(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync()
    deep = "[" * 50_000 + "]" * 50_000
    fake.inject("GET", r"/status$", status=200, body=deep, content_type="application/json")
    with pytest.raises(PolytomicError) as excinfo:
        client.sync_status(sync.id)
    assert "not JSON" in excinfo.value.message
    # The same depth in a failed call's body: the error keeps its class, with the reason phrase.
    fake.inject("GET", r"/status$", status=503, body=deep, content_type="application/json", times=3)
    with pytest.raises(ServerError):
        client.sync_status(sync.id)


def test_an_absurd_retry_after_is_clamped(fake: FakePolytomic, client: PolytomicClient) -> None:
    for value in ("1e300", "inf", "1e400"):
        assert parse_retry_after(value) == MAX_RETRY_AFTER
    sync = fake.add_sync()
    fake.inject("GET", r"/status$", status=429, retry_after="1e300")
    with pytest.raises(RateLimited) as excinfo:
        client.sync_status(sync.id)
    assert excinfo.value.retry_after == MAX_RETRY_AFTER
