"""The tracker's Polytomic client honours a 429's Retry-After for every call it makes, not only
the refused one: a stop's concurrent cancels wait the window out together (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.polytomic import PolytomicClient, RateLimited

KEY = "shared-retry-after-key"


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic(KEY) as server:
        yield server


def test_a_retry_after_closes_the_client_for_other_calls(fake: FakePolytomic) -> None:
    sleeps: list[float] = []
    client = PolytomicClient(
        fake.url, api_key=KEY, timeout=2.0, max_retries=0, sleep=sleeps.append, shared_retry_after=True
    )
    sync = fake.add_sync(name="A")
    fake.inject("GET", rf"^/api/syncs/{sync.id}$", status=429, retry_after=5)
    with pytest.raises(RateLimited):
        client.get_sync(sync.id)
    assert sleeps == []
    client.get_sync(sync.id)  # another call: it waits the window out before sending
    assert len(sleeps) == 1 and 4.0 < sleeps[0] <= 5.0
    assert [r.status for r in fake.requests] == [429, 200]
    client.close()


def test_a_long_retry_after_refuses_at_once_without_sending(fake: FakePolytomic) -> None:
    client = PolytomicClient(
        fake.url, api_key=KEY, timeout=2.0, max_retries=0, sleep=lambda s: None, shared_retry_after=True
    )
    sync = fake.add_sync(name="A")
    fake.inject("GET", rf"^/api/syncs/{sync.id}$", status=429, retry_after=120)
    with pytest.raises(RateLimited):
        client.get_sync(sync.id)
    with pytest.raises(RateLimited) as refused:
        client.get_sync(sync.id)
    assert refused.value.retry_after is not None and refused.value.retry_after > 100
    assert len(fake.requests) == 1  # the second was never sent
    client.close()


def test_off_by_default(fake: FakePolytomic) -> None:
    sleeps: list[float] = []
    client = PolytomicClient(fake.url, api_key=KEY, timeout=2.0, max_retries=0, sleep=sleeps.append)
    sync = fake.add_sync(name="A")
    fake.inject("GET", rf"^/api/syncs/{sync.id}$", status=429, retry_after=5)
    with pytest.raises(RateLimited):
        client.get_sync(sync.id)
    client.get_sync(sync.id)
    assert sleeps == []
    client.close()
