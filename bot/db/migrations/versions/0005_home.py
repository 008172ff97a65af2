"""The App Home tabs people have open: `homes`, one row per person.

Revision ID: 0005_home
Revises: 0004_stops
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_home"
down_revision = "0004_stops"  # the file 0004_stops.py
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "homes",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_ts", sa.String(length=32), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_homes")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        # A person's last operations, newest first (the Home tab's list).
        batch_op.create_index("ix_operations_requested_by", ["requested_by", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_requested_by")
    op.drop_table("homes")
