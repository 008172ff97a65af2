"""SQLAlchemy 2 models of who may do what and what they did: grants, operations (one row per
cancel, cancel-and-pause or start), audit events, and the App Home tabs people have open. This
module is also where every model is gathered: it imports the other model modules (stops in
bot/db/stop_models.py, Polytomic's events in bot/db/event_models.py, the alerts' tables in
bot/db/alert_models.py; the Base in bot/db/model_base.py), so that Base.metadata (what the
migrations compare against) holds every table whoever imports it, and it re-exports their names:
`from bot.db.models import X` works for every model and table.

The operations row is the single source of truth for a cancellation: every Slack message
about it is rendered from the row, and the tracker keeps nothing in memory that the row
does not hold, so any process can pick an operation up after a restart.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, Index, Integer, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.alert_models import (
    ALERT_DIGESTS,
    ALERT_FAILURES,
    ALERTS,
    MUTES,
    SUBSCRIPTIONS,
    Alert,
    AlertDigest,
    AlertFailure,
    Mute,
    Subscription,
)
from bot.db.event_models import EVENT_POLLER, POLYTOMIC_EVENTS, EventPoller, PolytomicEvent
from bot.db.model_base import Base, UTCDateTime, utcnow
from bot.db.stop_models import STOP_PROMPTS, STOP_SYNCS, STOPS, Stop, StopPrompt, StopSync

# Rows in these states don't hold their execution: a confirmed click is not yet authorized, and
# the others were refused, too late, not taken by Polytomic, or lost the race to another click.
# Every other row does, and the partial unique index below lets only one do so at a time.
NOT_HOLDING = ("confirmed", "denied", "stale", "rejected", "duplicate")
# A start (kind "start") never holds an execution: a cancel of the run it started must be free
# to take it. Its own rule is one live start per sync (`starting` or `running`).
_HOLDING = text("kind <> 'start' AND state NOT IN (" + ", ".join(f"'{state}'" for state in NOT_HOLDING) + ")")
LIVE_START = ("starting", "running")
_LIVE_START = text("kind = 'start' AND state IN (" + ", ".join(f"'{s}'" for s in LIVE_START) + ")")


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", "action", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # "user" or "usergroup"
    subject_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))  # "cancel", "pause", "admin"
    scope: Mapped[str] = mapped_column(String(64))  # a sync ID or "*"
    granted_by: Mapped[str] = mapped_column(String(64))  # a Slack user ID, or "cli:<login>"
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Operation(Base):
    __tablename__ = "operations"
    __table_args__ = (
        # One live operation per execution: of two clicks (a double click, two people, a
        # replayed request) only one can move to canceling; the other loses in the database,
        # whatever the process. A click holds nothing until it is authorized, so a click by
        # someone without permission can't keep out one that has it.
        Index(
            "uq_operations_live_execution",
            "execution_id",
            unique=True,
            sqlite_where=_HOLDING,
            postgresql_where=_HOLDING,
        ),
        Index("ix_operations_due", "finished_at", "next_poll_at"),
        Index("ix_operations_requested_by", "requested_by", "created_at"),
        # A stop's operations, by state: its hint asks whether any is still going.
        Index("ix_operations_stop_id_state", "stop_id", "state"),
        # A stop (a mass stop, bot/db/stops.py) makes one operation per sync, once.
        Index("uq_operations_stop_sync", "stop_id", "sync_id", unique=True),
        # One live start per sync: two "Start" clicks (or a Restart on two alerts) start one run.
        Index(
            "uq_operations_live_start",
            "sync_id",
            unique=True,
            sqlite_where=_LIVE_START,
            postgresql_where=_LIVE_START,
        ),
        # A start's idempotency: one row per (alert, failure) or per start prompt.
        UniqueConstraint("start_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "cancel", "cancel_and_pause" or "start" (bot.operations: each kind has its own transitions)
    kind: Mapped[str] = mapped_column(String(32), default="cancel")
    sync_id: Mapped[str] = mapped_column(String(64))
    # None until Polytomic has been read (the click's verification, else a later poll); "" when
    # the sync has no name. The messages show the sync's ID until then.
    sync_name: Mapped[str | None] = mapped_column(Text)
    # A start has no execution until Polytomic answers its POST; every other kind has one.
    execution_id: Mapped[str | None] = mapped_column(String(64))
    start_key: Mapped[str | None] = mapped_column(String(128))  # a start's idempotency key
    alert_id: Mapped[int | None] = mapped_column(Integer)  # the alert whose Restart made it
    thread_ts: Mapped[str | None] = mapped_column(String(32))  # its status message goes in this thread
    team_id: Mapped[str | None] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    response_url: Mapped[str | None] = mapped_column(Text)  # the confirm click's; 30 min, 5 uses
    status_ts: Mapped[str | None] = mapped_column(String(32))  # the channel status message
    incident_channel: Mapped[str | None] = mapped_column(String(32))
    incident_ts: Mapped[str | None] = mapped_column(String(32))  # the incident notice
    incident_final_ts: Mapped[str | None] = mapped_column(String(32))  # outcome reply in its thread
    incident_escalation_ts: Mapped[str | None] = mapped_column(String(32))  # "still canceling" reply
    state: Mapped[str] = mapped_column(String(32))
    polytomic_status: Mapped[str | None] = mapped_column(String(32))  # last status seen
    rows_written: Mapped[int | None] = mapped_column(Integer)
    execution_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    execution_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    execution_errors: Mapped[str | None] = mapped_column(Text)
    cancel_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_attempt: Mapped[int] = mapped_column(Integer, default=1)  # bumped by "try again"
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # schedule paused (cancel_and_pause)
    pause_error: Mapped[str | None] = mapped_column(Text)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resumed_by: Mapped[str | None] = mapped_column(String(32))
    status_digest: Mapped[str | None] = mapped_column(String(64))  # of the last view's state part
    status_progress_digest: Mapped[str | None] = mapped_column(String(64))  # of the whole last view
    status_edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_digest: Mapped[str | None] = mapped_column(String(64))  # of the notice as last sent
    status_error: Mapped[str | None] = mapped_column(Text)  # why the channel message failed
    incident_error: Mapped[str | None] = mapped_column(Text)  # why the incident notice failed
    notified_state: Mapped[str | None] = mapped_column(String(32))  # last state told to the requester
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # POLL_TIMEOUT from confirm
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # all effects delivered
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed steps
    # Why the last step failed; on a denied, stale or duplicate row, the note for the requester
    # (a bot.views.notes source, with its emphasis marks).
    last_error: Mapped[str | None] = mapped_column(Text)
    # What Polytomic's events said about the execution (bot/db/events.py writes these, never a
    # pass): the first terminal event's type, time, error and rows; and when an event last
    # made the row due, which a pass's release compares so that it never postpones a hint.
    event_type: Mapped[str | None] = mapped_column(String(64))
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_error: Mapped[str | None] = mapped_column(Text)
    event_rows: Mapped[int | None] = mapped_column(Integer)
    event_sync_name: Mapped[str | None] = mapped_column(Text)
    hinted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The stop this operation is one sync of (None: a single cancel). Its messages are the
    # stop's summary: the operation posts none of its own.
    stop_id: Mapped[int | None] = mapped_column(Integer)
    # Whether the schedule was active when read just before pausing it (cancel_and_pause): a
    # resume reactivates only a schedule that was (None: paused before this was recorded).
    was_active: Mapped[bool | None] = mapped_column(Boolean)
    resume_error: Mapped[str | None] = mapped_column(Text)  # why a stop's Resume could not reactivate it


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_sync_at", "sync_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # Slack user ID, or "cli:<login>", or "bot"
    action: Mapped[str] = mapped_column(String(32))  # cancel, grant, revoke, status, ...
    sync_id: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(16))  # "allowed", "denied" or None
    rule: Mapped[str | None] = mapped_column(Text)  # which grant or rule decided
    outcome: Mapped[str | None] = mapped_column(Text)
    operation_id: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[str | None] = mapped_column(String(32))


class Home(Base):
    """One person's App Home tab: where their DM with the app is (`channel_id`, from the
    app_home_opened event), when they last opened it (Slack has no "closed" event, so a home
    opened within the last few minutes counts as open), when it was last published, and since
    when one of their operations has changed without it being published again (`stale_at`).
    Shared by every replica, so the pace of republishing holds across them."""

    __tablename__ = "homes"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))  # the DM with the app (D…)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_ts: Mapped[str | None] = mapped_column(String(32))  # the last app_home_opened taken
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stale_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The tables, typed, for the stores' Core statements (cheaper than the ORM's on the hot paths).
GRANTS = cast(Table, Grant.__table__)
OPERATIONS = cast(Table, Operation.__table__)
AUDIT_EVENTS = cast(Table, AuditEvent.__table__)
HOMES = cast(Table, Home.__table__)

__all__ = [
    "ALERTS",
    "ALERT_DIGESTS",
    "ALERT_FAILURES",
    "AUDIT_EVENTS",
    "EVENT_POLLER",
    "GRANTS",
    "HOMES",
    "MUTES",
    "NOT_HOLDING",
    "OPERATIONS",
    "POLYTOMIC_EVENTS",
    "STOPS",
    "STOP_PROMPTS",
    "STOP_SYNCS",
    "SUBSCRIPTIONS",
    "Alert",
    "AlertDigest",
    "AlertFailure",
    "AuditEvent",
    "Base",
    "EventPoller",
    "Grant",
    "Home",
    "Mute",
    "Operation",
    "PolytomicEvent",
    "Stop",
    "StopPrompt",
    "StopSync",
    "Subscription",
    "UTCDateTime",
    "utcnow",
]
