"""Polytomic's events: the events table, the poller's lease and cursor row, and what the
events said on each operation.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OPERATION_COLUMNS = (
    ("event_type", sa.String(length=64)),
    ("event_at", sa.DateTime(timezone=True)),
    ("event_error", sa.Text()),
    ("event_rows", sa.Integer()),
    ("event_sync_name", sa.Text()),
    ("hinted_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "polytomic_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=160), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=True),
        sa.Column("sync_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polytomic_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_polytomic_events_event_key")),
    )
    with op.batch_alter_table("polytomic_events", schema=None) as batch_op:
        batch_op.create_index("ix_polytomic_events_execution_id", ["execution_id"], unique=False)
        batch_op.create_index("ix_polytomic_events_received_at", ["received_at"], unique=False)
    op.create_table(
        "event_poller",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_poller")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        for name, type_ in _OPERATION_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        for name, _type in reversed(_OPERATION_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table("event_poller")
    with op.batch_alter_table("polytomic_events", schema=None) as batch_op:
        batch_op.drop_index("ix_polytomic_events_received_at")
        batch_op.drop_index("ix_polytomic_events_execution_id")
    op.drop_table("polytomic_events")
