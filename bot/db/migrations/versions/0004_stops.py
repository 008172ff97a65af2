"""Stops (many syncs stopped at once): the prompt's snapshot, the stop and its syncs; on each
operation the stop it belongs to and whether its schedule was active before a pause.

Additive only (new tables, new nullable columns), so that it composes with 0003_alerts.

Revision ID: 0004_stops
Revises: 0003_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_stops"
down_revision = "0003_alerts"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stop_prompts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("verb", sa.String(length=16), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("syncs", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop_prompts")),
    )
    op.create_table(
        "stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("incident_channel", sa.String(length=32), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("aborted_at", _TS, nullable=True),
        sa.Column("aborted_by", sa.String(length=32), nullable=True),
        sa.Column("resume_asked_at", _TS, nullable=True),
        sa.Column("resume_asked_by", sa.String(length=32), nullable=True),
        sa.Column("final_at", _TS, nullable=True),
        sa.Column("prompt_cleared", sa.Boolean(), nullable=False),
        sa.Column("summary_ts", sa.String(length=32), nullable=True),
        sa.Column("summary_digest", sa.String(length=64), nullable=True),
        sa.Column("summary_edited_at", _TS, nullable=True),
        sa.Column("quiet_until", _TS, nullable=True),
        sa.Column("summary_error", sa.Text(), nullable=True),
        sa.Column("failures_ts", sa.String(length=32), nullable=True),
        sa.Column("resumed_ts", sa.String(length=32), nullable=True),
        sa.Column("incident_ts", sa.String(length=32), nullable=True),
        sa.Column("incident_final_ts", sa.String(length=32), nullable=True),
        sa.Column("incident_error", sa.Text(), nullable=True),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("next_poll_at", _TS, nullable=False),
        sa.Column("hinted_at", _TS, nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", _TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stops")),
        sa.UniqueConstraint("prompt_id", name=op.f("uq_stops_prompt_id")),
    )
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.create_index("ix_stops_due", ["finished_at", "next_poll_at"], unique=False)
    op.create_table(
        "stop_syncs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=False),
        sa.Column("sync_name", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.String(length=64), nullable=True),
        sa.Column("was_active", sa.Boolean(), nullable=True),
        sa.Column("paused_at", _TS, nullable=True),
        sa.Column("pause_error", sa.Text(), nullable=True),
        sa.Column("resumed_at", _TS, nullable=True),
        sa.Column("resume_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop_syncs")),
        sa.UniqueConstraint("stop_id", "sync_id", name=op.f("uq_stop_syncs_stop_id_sync_id")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stop_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("was_active", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("resume_error", sa.Text(), nullable=True))
        batch_op.create_index("ix_operations_stop_id_state", ["stop_id", "state"], unique=False)
        batch_op.create_index("uq_operations_stop_sync", ["stop_id", "sync_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("uq_operations_stop_sync")
        batch_op.drop_index("ix_operations_stop_id_state")
        batch_op.drop_column("resume_error")
        batch_op.drop_column("was_active")
        batch_op.drop_column("stop_id")
    op.drop_table("stop_syncs")
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.drop_index("ix_stops_due")
    op.drop_table("stops")
    op.drop_table("stop_prompts")
