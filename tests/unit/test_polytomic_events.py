"""bot.polytomic.events: tolerant event parsing, and read_window against in-memory servers that
sort either way, in no order at all, or pile events onto one timestamp (pure)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.polytomic import (
    EVENT_TYPES,
    Event,
    ExecutionStatus,
    event_key,
    parse_event,
    parse_events,
    read_window,
)

T0 = datetime(2025, 9, 18, 10, 0, 0, tzinfo=UTC)


# ----------------------------------------------------------------- parsing


def test_a_completed_event_with_every_sdk_field() -> None:
    event = parse_event(
        {
            "id": "evt-1",
            "type": "sync.completed",
            "created_at": "2025-09-18T10:11:12.123456789Z",  # Go sends nanoseconds
            "organization_id": "org-1",
            "event": {
                "sync_id": "s-1",
                "sync_name": "Contacts",
                "execution_id": "e-1",
                "organization_id": "org-1",
                "target_connection_id": "c-1",
                "status": "completed",
                "record_count": 10,
                "inserted_count": 4,
                "updated_count": 5,
                "upserted_count": 1,
                "error_count": 0,
                "warning_count": 2,
                "trigger": "scheduled",
                "logs_url": "https://example.invalid/logs.json",
                "schedule": {"frequency": "hourly"},
                "warnings": ["w1", 3, None, "w2"],
                "inserted_records": ["https://example.invalid/i.json"],
            },
        }
    )
    assert event.id == "evt-1" and event.known and event.family == "sync"
    assert event.created_at == datetime(2025, 9, 18, 10, 11, 12, 123456, tzinfo=UTC)
    assert (event.outcome, event.is_terminal, event.execution_status) == (
        "completed",
        True,
        ExecutionStatus("completed"),
    )
    sync = event.sync
    assert sync is not None and event.bulk_sync is None
    assert (sync.sync_id, sync.sync_name, sync.execution_id, sync.target_connection_id) == (
        "s-1",
        "Contacts",
        "e-1",
        "c-1",
    )
    assert sync.status == ExecutionStatus("completed")
    assert (sync.record_count, sync.rows_written, sync.warning_count, sync.trigger) == (
        10,
        10,
        2,
        "scheduled",
    )
    assert (sync.logs_url, sync.schedule_frequency, sync.warnings) == (
        "https://example.invalid/logs.json",
        "hourly",
        ("w1", "w2"),
    )
    assert event.payload["inserted_records"] == ("https://example.invalid/i.json",)  # raw kept, read-only
    with pytest.raises(TypeError):
        event.payload["sync_id"] = "other"  # type: ignore[index]
    stored = event.as_json()  # plain values again, e.g. to store a polled event
    assert json.loads(json.dumps(stored)) == stored
    assert stored["created_at"] == "2025-09-18T10:11:12.123456Z"
    assert stored["event"]["warnings"] == ["w1", 3, None, "w2"] and stored["id"] == "evt-1"
    assert parse_event(stored) == event


@pytest.mark.parametrize(
    ("type_", "outcome", "status"),
    [
        ("sync.running", "running", "running"),
        ("sync.completed", "completed", "completed"),
        ("sync.completed_with_errors", "completed_with_errors", "completed"),
        ("sync.failed", "failed", "failed"),
        ("sync.canceled", "canceled", "canceled"),
        ("bulk_sync.running", "running", "running"),
        ("bulk_sync.completed_with_error", "completed_with_errors", "completed"),  # singular
        ("bulk_sync.failed", "failed", "failed"),
        ("bulk_sync.canceled", "canceled", "canceled"),
    ],
)
def test_every_type_says_what_the_run_did(type_: str, outcome: str, status: str) -> None:
    event = parse_event({"type": type_, "event": {}})
    assert event.known
    assert event.outcome == outcome
    assert event.is_terminal is (outcome != "running")
    assert event.execution_status == ExecutionStatus(status)
    assert type_ in EVENT_TYPES


def test_error_events_and_bulk_payloads() -> None:
    failed = parse_event({"type": "sync.failed", "event": {"error": "Salesforce said no", "sync_id": 7}})
    assert failed.error == "Salesforce said no" and failed.sync_id == "7"
    with_errors = parse_event(
        {"type": "sync.completed_with_errors", "event": {"error": "3 rows", "number_of_errors": "3"}}
    )
    assert with_errors.sync is not None and with_errors.sync.number_of_errors == 3
    bulk = parse_event(
        {
            "type": "bulk_sync.running",
            "event": {
                "name": "Asana to BigQuery",
                "source_connection_id": "a",
                "destination_connection_id": "b",
            },
        }
    )
    assert bulk.bulk_sync is not None and bulk.sync is None
    assert (
        bulk.sync_name,
        bulk.bulk_sync.source_connection_id,
        bulk.bulk_sync.destination_connection_id,
    ) == (
        "Asana to BigQuery",  # the docs' `name` where the SDK says `sync_name`
        "a",
        "b",
    )
    named = parse_event({"type": "bulk_sync.completed", "event": {"sync_name": "SDK", "name": "docs"}})
    assert named.sync_name == "SDK"


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"type": None, "id": None, "created_at": None, "event": None},
        {"type": 3, "id": [], "created_at": 5, "organization_id": {}, "event": "x"},
        {"type": "sync.canceled", "event": {"status": 3, "record_count": "many", "warnings": "w"}},
        {"type": "sync.running", "created_at": "0001-01-01T00:00:00Z"},  # Go's zero time
    ],
)
def test_anything_missing_or_mistyped_parses_to_none(raw: dict[str, Any]) -> None:
    event = parse_event(raw)
    assert event.created_at is None
    assert isinstance(event.type, str)
    if event.sync is not None:
        assert event.sync.record_count is None and event.sync.warnings == ()


def test_unknown_types_are_kept_and_lists_tolerate_junk() -> None:
    events = parse_events([{"id": "a", "type": "organization.deleted"}, "junk", None, 3, {"id": "b"}])
    assert [(e.id, e.type, e.family, e.outcome, e.known) for e in events] == [
        ("a", "organization.deleted", None, None, False),
        ("b", "", None, None, False),
    ]
    assert parse_events(None) == [] and parse_events({"data": []}) == []


def test_event_key_is_the_id_else_what_the_event_says() -> None:
    assert event_key(parse_event({"id": "evt-9", "type": "sync.running"})) == "evt-9"
    one = parse_event(
        {"type": "sync.running", "created_at": "2025-09-18T10:00:00Z", "event": {"sync_id": "a"}}
    )
    same = parse_event(
        {"type": "sync.running", "created_at": "2025-09-18T10:00:00Z", "event": {"sync_id": "a"}}
    )
    other = parse_event(
        {"type": "sync.running", "created_at": "2025-09-18T10:00:00Z", "event": {"sync_id": "b"}}
    )
    assert event_key(one) == event_key(same) != event_key(other)
    assert event_key(one).startswith("sha256:")


# ----------------------------------------------------------------- read_window


class Server:
    """An in-memory events API: strict time filters, `limit`, one sort order."""

    def __init__(self, stamps: list[datetime], order: str = "ascending", seed: int = 0) -> None:
        self.events = [
            Event(id=f"e{i:05d}", type="sync.running", created_at=stamp) for i, stamp in enumerate(stamps)
        ]
        self.order = order
        self.random = random.Random(seed)
        self.calls: list[tuple[datetime | None, datetime | None, int]] = []

    def __call__(self, after: datetime | None, before: datetime | None, limit: int) -> list[Event]:
        self.calls.append((after, before, limit))
        match = [
            e
            for e in self.events
            if e.created_at is not None
            and (after is None or e.created_at > after)
            and (before is None or e.created_at < before)
        ]
        if self.order == "random":
            # Any `limit` of them, in any order: the worst a server could do.
            self.random.shuffle(match)
            return match[:limit]
        match.sort(key=lambda e: (e.created_at, e.id), reverse=self.order == "descending")
        return match[:limit]

    def ids(self, after: datetime | None = None, before: datetime | None = None) -> set[str]:
        return {
            e.id or ""
            for e in self.events
            if e.created_at is not None
            and (after is None or e.created_at > after)
            and (before is None or e.created_at < before)
        }


def spread(count: int, step_ms: float = 10.0) -> list[datetime]:
    return [T0 + timedelta(milliseconds=step_ms * (i + 1)) for i in range(count)]


@pytest.mark.parametrize("order", ["ascending", "descending", "random"])
@pytest.mark.parametrize("count", [0, 1, 9, 10, 11, 57, 250])
def test_every_event_of_the_window_is_read_once_whatever_the_order(order: str, count: int) -> None:
    server = Server(spread(count), order)
    window = read_window(server, T0, None, limit=10, max_requests=500)
    assert window.complete and window.covered_until is None
    assert [e.id for e in window.events] == sorted(server.ids())  # oldest first, no duplicates
    assert window.requests == len(server.calls)
    if order != "random" and count > 10:
        assert window.order == order
        # Following the order costs one request per page; each page re-reads its boundary.
        assert window.requests <= count // 9 + 2


@pytest.mark.parametrize("order", ["ascending", "descending", "random"])
def test_both_bounds_are_strict_and_respected(order: str) -> None:
    stamps = spread(100)
    server = Server(stamps, order)
    after, before = stamps[19], stamps[80]
    window = read_window(server, after, before, limit=7, max_requests=500)
    assert window.complete and window.covered_until == before
    assert {e.id for e in window.events} == server.ids(after, before)
    assert len(window.events) == 60
    for lo, hi, _ in server.calls:
        assert lo is not None and lo >= after - timedelta(microseconds=1)
        assert hi is not None and hi <= before


@pytest.mark.parametrize("order", ["ascending", "descending", "random"])
def test_events_sharing_a_timestamp_across_a_page_boundary_are_not_lost(order: str) -> None:
    # Pages of 10, and 4 events on every timestamp: every page ends in the middle of a tie.
    stamps = [T0 + timedelta(milliseconds=i // 4 + 1) for i in range(100)]
    server = Server(stamps, order)
    window = read_window(server, T0, None, limit=10, max_requests=500)
    assert window.complete
    assert {e.id for e in window.events} == server.ids()


@pytest.mark.parametrize("order", ["ascending", "descending", "random"])
def test_more_events_on_one_timestamp_than_a_page_holds_is_reported(order: str) -> None:
    stamps = (
        spread(5)
        + [T0 + timedelta(seconds=5)] * 30
        + [T0 + timedelta(seconds=6, milliseconds=i) for i in range(5)]
    )
    server = Server(stamps, order)
    window = read_window(server, T0, None, limit=10, max_requests=200)
    assert not window.complete  # 30 events at one instant cannot all be read 10 at a time
    everything_before = {
        e.id for e in server.events if e.created_at is not None and e.created_at < T0 + timedelta(seconds=5)
    }
    assert everything_before <= {e.id for e in window.events}
    assert window.covered_until is not None and window.covered_until <= T0 + timedelta(seconds=5)
    assert len(server.calls) < 200  # it gives up on the pile instead of spinning


@pytest.mark.parametrize("order", ["ascending", "descending", "random"])
def test_a_spent_budget_reports_the_prefix_read(order: str) -> None:
    stamps = spread(100)
    server = Server(stamps, order)
    window = read_window(server, T0, None, limit=10, max_requests=4)
    assert not window.complete and window.requests == 4
    until = window.covered_until
    assert until is not None and until >= T0
    read = {e.id for e in window.events}
    # Everything before covered_until was read: resuming from there loses nothing.
    assert server.ids(T0, until) <= read
    resumed = read_window(server, until - timedelta(microseconds=1), None, limit=10, max_requests=500)
    assert read | {e.id for e in resumed.events} == server.ids()


def test_an_ascending_budget_run_covers_a_real_prefix() -> None:
    server = Server(spread(100), "ascending")
    window = read_window(server, T0, None, limit=10, max_requests=3)
    assert window.covered_until is not None and window.covered_until > T0 + timedelta(milliseconds=250)


def test_events_without_timestamps_are_kept_but_cannot_be_paged() -> None:
    undated = [Event(id=f"u{i}", type="sync.running") for i in range(3)]

    def fetch(after: datetime | None, before: datetime | None, limit: int) -> list[Event]:
        return undated[:limit]

    full = read_window(fetch, T0, None, limit=3)
    assert not full.complete and [e.id for e in full.events] == ["u0", "u1", "u2"]
    short = read_window(fetch, T0, None, limit=5)
    assert short.complete and short.newest is None


def test_events_without_ids_deduplicate_by_content() -> None:
    stamp = T0 + timedelta(seconds=1)
    calls = 0

    def fetch(after: datetime | None, before: datetime | None, limit: int) -> list[Event]:
        nonlocal calls
        calls += 1
        return [Event(id=None, type="sync.running", created_at=stamp)]

    assert len(read_window(fetch, T0, None, limit=2).events) == 1


def test_bad_arguments_are_refused() -> None:
    fetch: Callable[[datetime | None, datetime | None, int], list[Event]] = lambda a, b, n: []  # noqa: E731
    with pytest.raises(ValueError):
        read_window(fetch, T0, limit=0)
    with pytest.raises(ValueError):
        read_window(fetch, T0, limit=101)
    with pytest.raises(ValueError):
        read_window(fetch, T0, max_requests=0)
