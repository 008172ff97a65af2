"""Alerts: subscriptions, alerts and their failures, flood digests, mutes; the events' intake
mark; and the operations row generalized for starts (a nullable execution, a start's key, the
alert it restarts, the thread its status goes in, one live start per sync).

Revision ID: 0003_alerts
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_alerts"
down_revision = "0002"  # the file 0002_events.py
branch_labels = None
depends_on = None

_OLD_HOLDING = "state NOT IN ('confirmed', 'denied', 'stale', 'rejected', 'duplicate')"
_NEW_HOLDING = "kind <> 'start' AND " + _OLD_HOLDING
_LIVE_START = "kind = 'start' AND state IN ('starting', 'running')"
_OPERATION_COLUMNS = (
    ("start_key", sa.String(length=128)),
    ("alert_id", sa.Integer()),
    ("thread_ts", sa.String(length=32)),
)
_LEASE = (
    ("finished_at", sa.DateTime(timezone=True), True),
    ("next_poll_at", sa.DateTime(timezone=True), False),
    ("lease_owner", sa.String(length=128), True),
    ("lease_expires_at", sa.DateTime(timezone=True), True),
)


def _lease_columns() -> list[sa.Column[object]]:
    return [sa.Column(name, type_, nullable=nullable) for name, type_, nullable in _LEASE]


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("scope_kind", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("scope_name", sa.Text(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=64), nullable=True),
        sa.Column("disabled_told_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "channel_id",
            "scope_kind",
            "scope_id",
            name=op.f("uq_subscriptions_channel_id_scope_kind_scope_id"),
        ),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=False),
        sa.Column("sync_name", sa.Text(), nullable=True),
        sa.Column("target_connection_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("streak_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_execution_id", sa.String(length=64), nullable=True),
        sa.Column("last_status", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_rows", sa.Integer(), nullable=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovered_execution_id", sa.String(length=64), nullable=True),
        sa.Column("recovered_rows", sa.Integer(), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_by", sa.String(length=32), nullable=True),
        sa.Column("restart_op_id", sa.Integer(), nullable=True),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("covered_failures", sa.Integer(), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("view_digest", sa.String(length=64), nullable=True),
        sa.Column("post_error", sa.Text(), nullable=True),
        sa.Column("recovery_ts", sa.String(length=32), nullable=True),
        sa.Column("recovery_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_lease_columns(),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("step_error", sa.Text(), nullable=True),
        sa.Column("hinted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "channel_id", "sync_id", "streak_key", name=op.f("uq_alerts_channel_id_sync_id_streak_key")
        ),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_due", ["finished_at", "next_poll_at"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_streak",
            ["channel_id", "sync_id"],
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )
    op.create_table(
        "alert_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_ts", sa.String(length=32), nullable=True),
        sa.Column("reply_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_failures")),
        sa.UniqueConstraint("alert_id", "execution_id", name=op.f("uq_alert_failures_alert_id_execution_id")),
    )
    op.create_table(
        "alert_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("view_digest", sa.String(length=64), nullable=True),
        sa.Column("post_error", sa.Text(), nullable=True),
        *_lease_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_digests")),
    )
    with op.batch_alter_table("alert_digests", schema=None) as batch_op:
        batch_op.create_index("ix_alert_digests_due", ["finished_at", "next_poll_at"], unique=False)
        batch_op.create_index(
            "uq_alert_digests_live",
            ["channel_id"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )
    op.create_table(
        "mutes",
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("muted_by", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "sync_id", name=op.f("pk_mutes")),
    )
    with op.batch_alter_table("polytomic_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_polytomic_events_alerted_at", ["alerted_at"], unique=False)
    # Events stored before alerts existed are not news: none of them alerts on the upgrade.
    op.execute(sa.text("UPDATE polytomic_events SET alerted_at = received_at"))
    with op.batch_alter_table("operations", schema=None) as batch_op:
        for name, type_ in _OPERATION_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.alter_column("execution_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(op.f("uq_operations_start_key"), ["start_key"])
        batch_op.drop_index(
            "uq_operations_live_execution",
            sqlite_where=sa.text(_OLD_HOLDING),
            postgresql_where=sa.text(_OLD_HOLDING),
        )
        batch_op.create_index(
            "uq_operations_live_execution",
            ["execution_id"],
            unique=True,
            sqlite_where=sa.text(_NEW_HOLDING),
            postgresql_where=sa.text(_NEW_HOLDING),
        )
        batch_op.create_index(
            "uq_operations_live_start",
            ["sync_id"],
            unique=True,
            sqlite_where=sa.text(_LIVE_START),
            postgresql_where=sa.text(_LIVE_START),
        )


def downgrade() -> None:
    # Starts have no execution to keep (or one the older schema can't tell from a cancel's):
    # they go, as the tables of the alerts do.
    op.execute(sa.text("DELETE FROM operations WHERE kind = 'start'"))
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("uq_operations_live_start")
        batch_op.drop_index("uq_operations_live_execution")
        batch_op.create_index(
            "uq_operations_live_execution",
            ["execution_id"],
            unique=True,
            sqlite_where=sa.text(_OLD_HOLDING),
            postgresql_where=sa.text(_OLD_HOLDING),
        )
        batch_op.drop_constraint(op.f("uq_operations_start_key"), type_="unique")
        batch_op.alter_column("execution_id", existing_type=sa.String(length=64), nullable=False)
        for name, _type in reversed(_OPERATION_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("polytomic_events", schema=None) as batch_op:
        batch_op.drop_index("ix_polytomic_events_alerted_at")
        batch_op.drop_column("alerted_at")
    op.drop_table("mutes")
    with op.batch_alter_table("alert_digests", schema=None) as batch_op:
        batch_op.drop_index("uq_alert_digests_live")
        batch_op.drop_index("ix_alert_digests_due")
    op.drop_table("alert_digests")
    op.drop_table("alert_failures")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_open_streak")
        batch_op.drop_index("ix_alerts_due")
    op.drop_table("alerts")
    op.drop_table("subscriptions")
