"""The pure parts of hearing Polytomic's events: the settings, the state a terminal event means,
the short cache of sync names, and where the poller's cursor goes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ConfigError, Mode, Settings, load_settings
from bot.feed.poller import OVERLAP, EventPoller
from bot.logs import RedactSecrets
from bot.names import SyncNames
from bot.operations import State, event_outcome
from bot.polytomic.event_window import EventWindow
from bot.polytomic.events import parse_event

ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32, "POLYTOMIC_API_KEY": "k"}
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def load(**changes: str) -> Settings:
    return load_settings(Mode.SERVE, {**ENV, **changes})


@pytest.mark.parametrize("secret", ["123456", "x" * 32, "a-b_c.d~e!f"])
def test_a_webhook_secret_of_6_to_32_characters_is_taken(secret: str) -> None:
    assert load(POLYTOMIC_WEBHOOK_SECRET=secret).polytomic_webhook_secret == secret


@pytest.mark.parametrize("secret", ["12345", "x" * 33, "with space", "tab\there", "é" * 8])
def test_any_other_webhook_secret_stops_start_up_naming_the_variable_not_the_value(secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(POLYTOMIC_WEBHOOK_SECRET=secret)
    assert caught.value.variable == "POLYTOMIC_WEBHOOK_SECRET"
    assert secret not in str(caught.value)


def test_the_webhook_secret_is_unset_by_default_and_never_in_a_repr() -> None:
    assert load().polytomic_webhook_secret is None
    settings = load(POLYTOMIC_WEBHOOK_SECRET="hush-hush-123")
    assert "hush-hush-123" not in repr(settings)


def test_the_webhook_secret_is_redacted_from_log_lines() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "secret is hush-hush-123", None, None)
    RedactSecrets(["hush-hush-123"]).filter(record)
    assert "hush-hush-123" not in record.getMessage()


@pytest.mark.parametrize(("value", "expected"), [(None, 30.0), ("0", 0.0), ("2.5", 2.5)])
def test_events_interval(value: str | None, expected: float) -> None:
    settings = load() if value is None else load(POLYTOMIC_EVENTS_INTERVAL=value)
    assert settings.events_interval == expected


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "0.01"])
def test_a_bad_events_interval_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(POLYTOMIC_EVENTS_INTERVAL=value)
    assert caught.value.variable == "POLYTOMIC_EVENTS_INTERVAL"


@pytest.mark.parametrize(
    ("type_", "state"),
    [
        ("sync.canceled", State.CANCELED),
        ("sync.completed", State.COMPLETED),
        ("sync.completed_with_errors", State.COMPLETED),  # completed, errors shown
        ("sync.failed", State.FAILED),
        ("sync.running", None),
        ("bulk_sync.canceled", None),  # not acted on yet
        ("sync.something_new", None),
        (None, None),
    ],
)
def test_the_state_a_terminal_event_means(type_: str | None, state: State | None) -> None:
    assert event_outcome(type_) == state


def test_sync_names_expire_and_stay_bounded() -> None:
    now = [0.0]
    names = SyncNames(ttl=10, size=2, clock=lambda: now[0])
    names.put("a", "Orders")
    names.put("b", "")
    assert names.get("a") == "Orders" and names.get("b") == ""
    names.put("c", "Leads")  # over the size: the oldest goes
    assert names.get("a") is None and names.get("c") == "Leads"
    now[0] = 11
    assert names.get("c") is None


def poller() -> EventPoller:
    return EventPoller(None, None, None, interval=30, owner="me", lease_ttl=30)  # type: ignore[arg-type]


def window(*, complete: bool, covered: datetime | None, newest: datetime | None) -> EventWindow:
    events = (
        ()
        if newest is None
        else (parse_event({"id": "e", "type": "sync.running", "created_at": newest.isoformat()}),)
    )
    return EventWindow(events=events, complete=complete, covered_until=covered, requests=1, order="unknown")


def test_a_complete_read_moves_the_cursor_up_to_now_less_the_overlap() -> None:
    assert poller()._cursor(None, window(complete=True, covered=None, newest=None), NOW) == NOW - OVERLAP
    recent = NOW - timedelta(seconds=5)
    assert poller()._cursor(None, window(complete=True, covered=None, newest=recent), NOW) == recent


def test_an_incomplete_read_moves_it_only_as_far_as_certain_and_never_back() -> None:
    cursor = NOW - timedelta(hours=1)
    covered = NOW - timedelta(minutes=30)
    got = poller()._cursor(cursor, window(complete=False, covered=covered, newest=NOW), NOW)
    assert got == covered
    assert poller()._cursor(cursor, window(complete=False, covered=None, newest=NOW), NOW) == cursor
    earlier = cursor - timedelta(minutes=1)
    assert poller()._cursor(cursor, window(complete=False, covered=earlier, newest=NOW), NOW) == cursor


def test_what_a_row_takes_from_its_terminal_event() -> None:
    from bot.db.models import Operation
    from bot.operations import event_fields

    op = Operation(
        id=1,
        state="canceling",
        sync_name=None,
        attempts=2,
        event_type="sync.completed_with_errors",
        event_at=NOW,
        event_error="row 3: bad email",
        event_rows=12,
        event_sync_name="Orders",
    )
    fields = event_fields(op, NOW + timedelta(seconds=9))
    assert fields == {
        "state": State.COMPLETED,
        "polytomic_status": "completed",
        "execution_ended_at": NOW,
        "rows_written": 12,
        "execution_errors": "row 3: bad email",
        "sync_name": "Orders",
        "attempts": 0,
        "last_error": None,
    }
    canceled = Operation(id=2, state="canceling", sync_name="Known", attempts=0, event_type="sync.canceled")
    assert event_fields(canceled, NOW) == {
        "state": State.CANCELED,
        "polytomic_status": "canceled",
        "execution_ended_at": NOW,  # no event time: when it was taken
    }
    with pytest.raises(ValueError):
        event_fields(Operation(id=3, state="canceling", event_type="sync.running"), NOW)
