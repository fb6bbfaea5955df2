"""Initial ledger: processed_applications, application_events, poller_state.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poller.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_applications",
        sa.Column("application_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("hibob_employee_id", sa.String(64)),
        sa.Column("employee_link", sa.String(16)),
        sa.Column("cv_document_id", sa.String(64)),
        sa.Column("cv_status", sa.String(16)),
        sa.Column("pinpoint_comment_id", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime()),
        sa.Column("candidate_name", sa.String(300)),
        sa.Column("email", sa.String(320)),
        sa.Column("pinpoint_updated_at", UTCDateTime()),
        sa.Column("create_started_at", UTCDateTime()),
        sa.Column("cv_started_at", UTCDateTime()),
        sa.Column("comment_started_at", UTCDateTime()),
        sa.Column("last_error_step", sa.String(32)),
        sa.CheckConstraint(
            "state IN ('pending','in_progress','done','failed','baseline')",
            name="ck_processed_applications_state",
        ),
    )
    op.create_index(
        "ix_processed_applications_state_next",
        "processed_applications",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_processed_applications_updated_at", "processed_applications", ["updated_at"]
    )
    op.create_table(
        "application_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "application_id",
            sa.String(64),
            sa.ForeignKey("processed_applications.application_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("worker", sa.String(128)),
    )
    op.create_index("ix_application_events_app", "application_events", ["application_id", "id"])
    op.create_table(
        "poller_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("poller_state")
    op.drop_index("ix_application_events_app", table_name="application_events")
    op.drop_table("application_events")
    op.drop_index("ix_processed_applications_updated_at", table_name="processed_applications")
    op.drop_index("ix_processed_applications_state_next", table_name="processed_applications")
    op.drop_table("processed_applications")
