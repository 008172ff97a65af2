"""SQLAlchemy models of the alerts' tables (issue 14): subscriptions, alerts with their
failures, flood digests, mutes. Apart from bot/db/models.py (which imports this module, so the
metadata holds them) to keep each module small; the stores are bot/db/subscriptions.py,
bot/db/alerts.py and bot/db/alert_intake.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Index, Integer, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.model_base import Base, UTCDateTime, utcnow


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


SUBSCRIPTIONS = cast(Table, Subscription.__table__)
ALERTS = cast(Table, Alert.__table__)
ALERT_FAILURES = cast(Table, AlertFailure.__table__)
ALERT_DIGESTS = cast(Table, AlertDigest.__table__)
MUTES = cast(Table, Mute.__table__)
