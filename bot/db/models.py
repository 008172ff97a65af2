"""SQLAlchemy 2 models: grants, operations (one row per cancel, cancel-and-pause or start),
audit events, Polytomic's events with their poller's row, and the alerts' tables (subscriptions,
alerts with their failures, flood digests, mutes).

The operations row is the single source of truth for a cancellation: every Slack message
about it is rendered from the row, and the tracker keeps nothing in memory that the row
does not hold, so any process can pick an operation up after a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Rows in these states don't hold their execution: a confirmed click is not yet authorized, and
# the others were refused, too late, not taken by Polytomic, or lost the race to another click.
# Every other row does, and the partial unique index below lets only one do so at a time.
NOT_HOLDING = ("confirmed", "denied", "stale", "rejected", "duplicate")
# A start (kind "start") never holds an execution: a cancel of the run it started must be free
# to take it. Its own rule is one live start per sync (`starting` or `running`).
_HOLDING = text("kind <> 'start' AND state NOT IN (" + ", ".join(f"'{state}'" for state in NOT_HOLDING) + ")")
LIVE_START = ("starting", "running")
_LIVE_START = text("kind = 'start' AND state IN (" + ", ".join(f"'{s}'" for s in LIVE_START) + ")")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


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


class PolytomicEvent(Base):
    """One Polytomic event, stored once whichever way it came (webhook or poll), keyed by its
    id (or a digest of its body when it has none). Pruned after Polytomic's 48 hours."""

    __tablename__ = "polytomic_events"
    __table_args__ = (
        UniqueConstraint("event_key"),
        Index("ix_polytomic_events_execution_id", "execution_id"),
        Index("ix_polytomic_events_received_at", "received_at"),
        Index("ix_polytomic_events_alerted_at", "alerted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(160))
    type: Mapped[str] = mapped_column(String(200))
    execution_id: Mapped[str | None] = mapped_column(String(64))
    sync_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # Polytomic's time
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(8))  # "webhook" or "poll"
    payload: Mapped[str] = mapped_column(Text)  # the event as JSON
    # When the alerts' intake took this event in (bot/db/alerts.py); NULL: not yet. Only the
    # four terminal model-sync types are ever taken in.
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EventPoller(Base):
    """The events poller's one row: who polls (a lease, as for operations) and how far the
    events API has been read (`cursor`, a Polytomic timestamp)."""

    __tablename__ = "event_poller"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Subscription(Base):
    """A channel's wish to hear of some syncs' runs: one sync, every sync (`*`), or every sync
    writing to one connection; `mode` says which runs (failures, finished, all)."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("channel_id", "scope_kind", "scope_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    scope_kind: Mapped[str] = mapped_column(String(16))  # "sync", "all" or "connection"
    scope_id: Mapped[str] = mapped_column(String(64))  # a sync ID, "*", or a connection ID
    scope_name: Mapped[str | None] = mapped_column(Text)  # the sync's or connection's name, shown
    mode: Mapped[str] = mapped_column(String(16))  # "failures", "finished" or "all"
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The channel went away (archived, not found, the bot removed): alerts stop, and whoever
    # subscribed is told once (disabled_told_at).
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(String(64))
    disabled_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Alert(Base):
    """One sync's failure streak in one channel (kind "streak"), or one finished run told to a
    channel that asked for those (kind "notice"). Its Slack message, thread replies and buttons'
    effects are recorded on it as they land, as an operation's are; the tracker's alert pass
    claims it under a lease like an operation."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("channel_id", "sync_id", "streak_key"),
        # One open streak per sync per channel: a further failure joins it.
        Index(
            "uq_alerts_open_streak",
            "channel_id",
            "sync_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_alerts_due", "finished_at", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    sync_id: Mapped[str] = mapped_column(String(64))
    sync_name: Mapped[str | None] = mapped_column(Text)
    target_connection_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # "streak" or "notice"
    streak_key: Mapped[str] = mapped_column(String(64))  # the first failure's execution ID
    state: Mapped[str] = mapped_column(String(16))  # "open", "recovered" or "notice"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_execution_id: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_rows: Mapped[int | None] = mapped_column(Integer)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recovered_execution_id: Mapped[str | None] = mapped_column(String(64))
    recovered_rows: Mapped[int | None] = mapped_column(Integer)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_by: Mapped[str | None] = mapped_column(String(32))
    restart_op_id: Mapped[int | None] = mapped_column(Integer)
    digest_id: Mapped[int | None] = mapped_column(Integer)  # the flood digest that covers it
    covered_failures: Mapped[int] = mapped_column(Integer, default=0)  # failures the digest told
    ts: Mapped[str | None] = mapped_column(String(32))  # the alert message
    view_digest: Mapped[str | None] = mapped_column(String(64))
    post_error: Mapped[str | None] = mapped_column(Text)  # the permanent Slack error that stopped it
    recovery_ts: Mapped[str | None] = mapped_column(String(32))  # "recovered after N failures"
    recovery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    step_error: Mapped[str | None] = mapped_column(Text)
    # When an event or a click last made the row due; a pass never writes it, and its finish
    # and release compare it (as operations' do), so news during a pass gets a pass of its own.
    hinted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertFailure(Base):
    """One failed run in a streak, once (the unique key: a duplicated event adds nothing), and
    its reply in the alert's thread (`reply_ts`; "-" where none is due: the first failure, a
    muted one, one the digest told)."""

    __tablename__ = "alert_failures"
    __table_args__ = (UniqueConstraint("alert_id", "execution_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    execution_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    reply_error: Mapped[str | None] = mapped_column(Text)


class AlertDigest(Base):
    """A channel's flood digest: many syncs failing at once are one message, edited as more
    arrive. Live (closed_at NULL) until no failure joined it for a while; one live per channel."""

    __tablename__ = "alert_digests"
    __table_args__ = (
        Index(
            "uq_alert_digests_live",
            "channel_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_alert_digests_due", "finished_at", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the latest failure it took in
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ts: Mapped[str | None] = mapped_column(String(32))
    view_digest: Mapped[str | None] = mapped_column(String(64))
    post_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Mute(Base):
    """Alerts about one sync in one channel post nothing new until `until` (the message is
    still edited: an edit pings no one)."""

    __tablename__ = "mutes"

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sync_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    muted_by: Mapped[str] = mapped_column(String(32))


# The tables, typed, for the stores' Core statements (cheaper than the ORM's on the hot paths).
GRANTS = cast(Table, Grant.__table__)
OPERATIONS = cast(Table, Operation.__table__)
AUDIT_EVENTS = cast(Table, AuditEvent.__table__)
POLYTOMIC_EVENTS = cast(Table, PolytomicEvent.__table__)
EVENT_POLLER = cast(Table, EventPoller.__table__)
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
ALERTS = cast(Table, Alert.__table__)
ALERT_FAILURES = cast(Table, AlertFailure.__table__)
ALERT_DIGESTS = cast(Table, AlertDigest.__table__)
MUTES = cast(Table, Mute.__table__)
