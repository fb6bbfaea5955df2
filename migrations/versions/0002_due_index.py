"""Claim index: (state, next_attempt_at, created_at), so a claim reads a few index entries.

The old index on (state, next_attempt_at) couldn't give the claim's order (created_at breaks
ties among the many rows with no next_attempt_at), so every claim read and sorted all due
rows: quadratic over a backlog.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_processed_applications_due",
        "processed_applications",
        ["state", "next_attempt_at", "created_at"],
    )
    op.drop_index("ix_processed_applications_state_next", table_name="processed_applications")


def downgrade() -> None:
    op.create_index(
        "ix_processed_applications_state_next",
        "processed_applications",
        ["state", "next_attempt_at"],
    )
    op.drop_index("ix_processed_applications_due", table_name="processed_applications")
