"""Execution status classification and tolerant parsing of Polytomic answers (no HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.polytomic import (
    Execution,
    ExecutionCounts,
    ExecutionStatus,
    Phase,
    parse_execution,
    parse_sync,
    parse_sync_status,
    parse_timestamp,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "polytomic"

EXPECTED_PHASES = {
    "created": Phase.PENDING,
    "scheduled": Phase.PENDING,
    "queued": Phase.PENDING,
    "waiting": Phase.PENDING,
    "running": Phase.RUNNING,
    "processing": Phase.RUNNING,
    "canceling": Phase.CANCELING,
    "canceled": Phase.TERMINAL,
    "completed": Phase.TERMINAL,
    "failed": Phase.TERMINAL,
    "interrupted": Phase.TERMINAL,
}


@pytest.mark.parametrize(("value", "phase"), sorted(EXPECTED_PHASES.items()))
def test_every_documented_status_has_its_phase(value: str, phase: Phase) -> None:
    status = ExecutionStatus.parse(value)
    assert status.value == value
    assert status.phase is phase
    assert status.is_terminal is (phase is Phase.TERMINAL)
    assert status.is_active is (phase is not Phase.TERMINAL)


def test_the_classification_covers_exactly_the_sdk_enum() -> None:
    # If Polytomic's SDK grows a status, this fails and the table above needs a decision.
    schemas = json.loads((SHARED / "schemas-from-sdk-25.9.10.json").read_text())
    status_schema = schemas["GetExecutionResponseEnvelope"]["$defs"]["GetExecutionResponseSchema"]
    enum = next(b["enum"] for b in status_schema["properties"]["status"]["anyOf"] if "enum" in b)
    assert set(enum) == set(EXPECTED_PHASES)


@pytest.mark.parametrize("value", ["paused", "cancelled", "done", "error", "success", "", "  "])
def test_unknown_values_are_unknown_and_never_terminal(value: str) -> None:
    status = ExecutionStatus.parse(value)
    assert status.phase is Phase.UNKNOWN
    assert not status.is_terminal
    assert status.is_active


def test_case_and_padding_are_ignored_for_classification() -> None:
    status = ExecutionStatus.parse("Canceled")
    assert status.value == "Canceled"
    assert status.is_terminal
    padded = ExecutionStatus.parse(" RUNNING ")
    assert padded.value == "RUNNING"
    assert padded.phase is Phase.RUNNING


def test_none_and_non_string_statuses() -> None:
    none = ExecutionStatus.parse(None)
    assert none.value == ""
    assert none.phase is Phase.UNKNOWN
    assert none.is_active
    assert str(none) == "unknown"
    assert ExecutionStatus.parse(3).phase is Phase.UNKNOWN
    assert ExecutionStatus.parse(3).value == "3"


def test_status_is_a_frozen_value() -> None:
    assert ExecutionStatus.parse("running") == ExecutionStatus("running")
    with pytest.raises(AttributeError):
        ExecutionStatus.parse("running").value = "canceled"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-09-18T10:11:12Z", datetime(2025, 9, 18, 10, 11, 12, tzinfo=UTC)),
        ("2025-09-18T10:11:12.123456789Z", datetime(2025, 9, 18, 10, 11, 12, 123456, tzinfo=UTC)),
        ("2025-09-18T12:11:12+02:00", datetime(2025, 9, 18, 10, 11, 12, tzinfo=UTC)),
        ("2025-09-18T10:11:12", datetime(2025, 9, 18, 10, 11, 12, tzinfo=UTC)),  # naive -> UTC
        ("0001-01-01T00:00:00Z", None),  # Go's zero time means "unset"
        ("2025-13-01T00:00:00Z", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1758190272, None),
        ({"at": "2025-09-18T10:11:12Z"}, None),
    ],
)
def test_parse_timestamp(raw: object, expected: datetime | None) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)
        assert parsed.tzinfo is UTC


def test_timestamps_in_other_zones_are_converted_to_utc() -> None:
    parsed = parse_timestamp("2025-09-18T05:00:00-05:00")
    assert parsed == datetime(2025, 9, 18, 10, 0, tzinfo=UTC)
    assert parsed is not None and parsed.hour == 10


def test_execution_with_every_field_missing() -> None:
    for raw in ({}, None, [], "nonsense", {"counts": None, "errors": None, "status": None}):
        execution = parse_execution(raw)
        assert execution == Execution(id=None, status=ExecutionStatus(""))
        assert execution.counts == ExecutionCounts()
        assert execution.counts.rows_written is None
        assert execution.errors == ()
        assert execution.status.is_active


def test_execution_default_id_when_the_answer_has_none() -> None:
    assert parse_execution({"status": "running"}, default_id="e-1").id == "e-1"
    assert parse_execution({"id": "e-2"}, default_id="e-1").id == "e-2"


def test_execution_full_and_odd_fields() -> None:
    execution = parse_execution(
        {
            "id": "9d4f...",
            "status": "failed",
            "type": "manual",
            "created_at": "2025-09-18T10:00:00Z",
            "started_at": "not a date",
            "completed_at": "2025-09-18T10:05:00.5Z",
            "counts": {
                "insert": 5,
                "update": "7",
                "delete": None,
                "upserts": 1.0,
                "error": True,
                "total": 99,
            },
            "errors": ["boom", {"message": "bad row"}, None, 42],
            "version": "v5",
        }
    )
    assert execution.status.is_terminal
    assert execution.type == "manual"
    assert execution.created_at == datetime(2025, 9, 18, 10, tzinfo=UTC)
    assert execution.started_at is None
    assert execution.completed_at == datetime(2025, 9, 18, 10, 5, 0, 500000, tzinfo=UTC)
    # numeric strings and integral floats are accepted; booleans are not counts
    assert execution.counts == ExecutionCounts(
        insert=5, update=7, delete=None, upserts=1, error=None, warnings=None, total=99
    )
    assert execution.counts.rows_written == 13
    assert execution.errors == ("boom", "bad row", "42")


def test_rows_written_falls_back_to_total_only_when_no_kind_is_known() -> None:
    assert ExecutionCounts(total=40).rows_written == 40
    assert ExecutionCounts(insert=0, total=40).rows_written == 0
    assert ExecutionCounts(update=3, delete=2, total=40).rows_written == 5
    assert ExecutionCounts().rows_written is None


def test_sync_nested_target_from_get_sync() -> None:
    sync = parse_sync(
        {
            "id": "s-1",
            "name": "Contacts",
            "active": False,
            "mode": "updateOrCreate",
            "target": {"connection_id": "c-1", "object": "Contact"},
            "schedule": {"frequency": "hourly"},
        }
    )
    assert (sync.id, sync.name, sync.active, sync.mode) == ("s-1", "Contacts", False, "updateOrCreate")
    assert (sync.target_connection_id, sync.target_object, sync.schedule_frequency) == (
        "c-1",
        "Contact",
        "hourly",
    )


def test_sync_flat_target_from_list_items() -> None:
    sync = parse_sync({"id": "s-2", "target_connection_id": "c-2", "target_object": "Lead", "active": True})
    assert (sync.target_connection_id, sync.target_object, sync.active) == ("c-2", "Lead", True)
    assert sync.schedule_frequency is None


def test_sync_with_missing_and_null_fields() -> None:
    sync = parse_sync({"name": None, "active": None, "target": None, "schedule": None}, default_id="s-3")
    assert sync.id == "s-3"
    assert (sync.name, sync.active, sync.mode, sync.target_connection_id) == (None, None, None, None)
    assert parse_sync(None, default_id="s-4").id == "s-4"
    assert parse_sync({"active": "yes"}).active is None  # not a boolean: unknown, not truthy


def test_sync_status_tolerates_nulls_and_empty_objects() -> None:
    empty = parse_sync_status(None)
    assert (empty.current_execution, empty.last_execution, empty.next_execution_time) == (None, None, None)
    assert not empty.is_running
    status = parse_sync_status(
        {
            "current_execution": {},
            "last_execution": {"id": "e-1", "status": "completed"},
            "next_execution_time": "0001-01-01T00:00:00Z",
        }
    )
    assert status.current_execution is None
    assert status.last_execution is not None and status.last_execution.status.is_terminal
    assert status.next_execution_time is None
    running = parse_sync_status({"current_execution": {"id": "e-2", "status": "canceling"}})
    assert running.is_running
    assert running.current_execution is not None
    assert running.current_execution.status.phase is Phase.CANCELING
