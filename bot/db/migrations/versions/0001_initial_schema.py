"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_events_sync_at", ["sync_id", "at"], unique=False)

    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint(
            "subject_kind",
            "subject_id",
            "action",
            "scope",
            name=op.f("uq_grants_subject_kind_subject_id_action_scope"),
        ),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=False),
        sa.Column("sync_name", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("status_ts", sa.String(length=32), nullable=True),
        sa.Column("incident_channel", sa.String(length=32), nullable=True),
        sa.Column("incident_ts", sa.String(length=32), nullable=True),
        sa.Column("incident_final_ts", sa.String(length=32), nullable=True),
        sa.Column("incident_escalation_ts", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("polytomic_status", sa.String(length=32), nullable=True),
        sa.Column("rows_written", sa.Integer(), nullable=True),
        sa.Column("execution_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_errors", sa.Text(), nullable=True),
        sa.Column("cancel_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_attempt", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pause_error", sa.Text(), nullable=True),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resumed_by", sa.String(length=32), nullable=True),
        sa.Column("status_digest", sa.String(length=64), nullable=True),
        sa.Column("status_progress_digest", sa.String(length=64), nullable=True),
        sa.Column("status_edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_digest", sa.String(length=64), nullable=True),
        sa.Column("status_error", sa.Text(), nullable=True),
        sa.Column("incident_error", sa.Text(), nullable=True),
        sa.Column("notified_state", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_due", ["finished_at", "next_poll_at"], unique=False)
        batch_op.create_index(
            "uq_operations_live_execution",
            ["execution_id"],
            unique=True,
            sqlite_where=sa.text("state NOT IN ('confirmed', 'denied', 'stale', 'rejected', 'duplicate')"),
            postgresql_where=sa.text(
                "state NOT IN ('confirmed', 'denied', 'stale', 'rejected', 'duplicate')"
            ),
        )


def downgrade() -> None:

    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_operations_live_execution",
            sqlite_where=sa.text("state NOT IN ('confirmed', 'denied', 'stale', 'rejected', 'duplicate')"),
            postgresql_where=sa.text(
                "state NOT IN ('confirmed', 'denied', 'stale', 'rejected', 'duplicate')"
            ),
        )
        batch_op.drop_index("ix_operations_due")

    op.drop_table("operations")
    op.drop_table("grants")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_sync_at")
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
