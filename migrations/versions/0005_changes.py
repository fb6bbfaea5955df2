"""After the hire: what was last seen of a processed hire, and the changes found since.

- ``processed_applications.watched``: JSON of what the product last saw of the hire in
  Pinpoint (start date, first and last name, email, mapped site, department and title);
- ``application_changes``: one row per change seen (application, field, new value) and what
  became of it (``action``: pending, synced, flagged, ignored or sync_failed), with the lease
  and intent columns that make its write to HiBob exactly once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poller.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIONS = "('pending','synced','flagged','ignored','sync_failed')"


def upgrade() -> None:
    with op.batch_alter_table("processed_applications") as batch:
        batch.add_column(sa.Column("watched", sa.Text()))
    op.create_table(
        "application_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "application_id",
            sa.String(64),
            sa.ForeignKey("processed_applications.application_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("old_value", sa.Text()),
        sa.Column("new_value", sa.Text()),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("synced_at", UTCDateTime()),
        sa.Column("acked_at", UTCDateTime()),
        sa.Column("note", sa.Text()),
        sa.Column("payload", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("sync_started_at", UTCDateTime()),
        sa.CheckConstraint(f"action IN {ACTIONS}", name="ck_application_changes_action"),
    )
    op.create_index("ix_application_changes_app", "application_changes", ["application_id", "id"])
    op.create_index("ix_application_changes_action", "application_changes", ["action", "acked_at"])


def downgrade() -> None:
    op.drop_table("application_changes")
    with op.batch_alter_table("processed_applications") as batch:
        batch.drop_column("watched")
