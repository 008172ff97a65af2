"""SQLAlchemy models of a stop (many syncs canceled, paused or resumed at once): the prompt's
snapshot, the stop with its summary message, and its syncs. Apart from bot/db/models.py (which
imports this module, so the metadata holds them) to keep each module small; the stores are
bot/db/stop_clicks.py and bot/db/stops.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.model_base import Base, UTCDateTime, utcnow


class StopPrompt(Base):
    """What a stop's prompt showed (the syncs, and the run of each then), kept for its buttons:
    a button's value holds 2,000 characters, so it carries this row's ID. Expires."""

    __tablename__ = "stop_prompts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, URL-safe
    verb: Mapped[str] = mapped_column(String(16))  # cancel, pause, resume
    command: Mapped[str] = mapped_column(Text)  # the command's text, to ask again once expired
    label: Mapped[str] = mapped_column(Text)  # what was selected, as a source for the views
    requested_by: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    syncs: Mapped[str] = mapped_column(Text)  # JSON: [{"s": sync ID, "n": name, "e": run or null}]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Stop(Base):
    """A stop: many syncs canceled, paused or resumed from one confirm click, followed by one
    summary message (not to be confused with the incident channel, which only hears of it)."""

    __tablename__ = "stops"
    __table_args__ = (
        UniqueConstraint("prompt_id"),  # one stop per prompt: a double click confirms once
        Index("ix_stops_due", "finished_at", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # cancel, cancel_and_pause, pause, resume
    label: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    response_url: Mapped[str | None] = mapped_column(Text)
    incident_channel: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    aborted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # Abort the rest
    aborted_by: Mapped[str | None] = mapped_column(String(32))
    resume_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # Resume the N schedules
    resume_asked_by: Mapped[str | None] = mapped_column(String(32))
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # every sync settled
    prompt_cleared: Mapped[bool] = mapped_column(Boolean, default=False)
    summary_ts: Mapped[str | None] = mapped_column(String(32))
    summary_digest: Mapped[str | None] = mapped_column(String(64))
    summary_edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quiet_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # no summary edit before
    summary_error: Mapped[str | None] = mapped_column(Text)
    failures_ts: Mapped[str | None] = mapped_column(String(32))  # the thread reply of failures
    resumed_ts: Mapped[str | None] = mapped_column(String(32))  # the thread reply of a resume
    incident_ts: Mapped[str | None] = mapped_column(String(32))  # the incident channel's notice
    incident_final_ts: Mapped[str | None] = mapped_column(String(32))  # its outcome, in its thread
    incident_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    hinted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # an operation made it due
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class StopSync(Base):
    """One sync of a stop: the run it was bound to at prompt time, and its schedule (for a pause
    or a resume): whether it was active just before the stop paused it, and its resume."""

    __tablename__ = "stop_syncs"
    __table_args__ = (UniqueConstraint("stop_id", "sync_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stop_id: Mapped[int] = mapped_column(Integer)
    sync_id: Mapped[str] = mapped_column(String(64))
    sync_name: Mapped[str | None] = mapped_column(Text)
    execution_id: Mapped[str | None] = mapped_column(String(64))  # running at prompt time
    was_active: Mapped[bool | None] = mapped_column(Boolean)  # read just before pausing
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_error: Mapped[str | None] = mapped_column(Text)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resume_error: Mapped[str | None] = mapped_column(Text)


STOP_PROMPTS = cast(Table, StopPrompt.__table__)
STOPS = cast(Table, Stop.__table__)
STOP_SYNCS = cast(Table, StopSync.__table__)
