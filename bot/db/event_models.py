"""SQLAlchemy models of Polytomic's events: each event stored once (webhook or poll), and the
events poller's row (its lease and cursor). Apart from bot/db/models.py (which imports this
module, so the metadata holds them) to keep each module small; the store is bot/db/events.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.model_base import Base, UTCDateTime, utcnow


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


POLYTOMIC_EVENTS = cast(Table, PolytomicEvent.__table__)
EVENT_POLLER = cast(Table, EventPoller.__table__)
