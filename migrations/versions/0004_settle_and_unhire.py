"""Hires that change their mind: the settle window and the un-hire flag.

- state may also be ``settling`` (hired less than discovery.settle_minutes ago: next_attempt_at
  says when it is due) or ``withdrawn`` (it left the hired stage before any write);
- ``hired_at``: when the application entered its hired stage (Pinpoint's hired_at, else the
  first time the poller saw it there), which the settle window counts from;
- ``withdrawn_stage``: the stage a withdrawn application was in instead;
- ``unhired_at``, ``unhired_stage``: the un-hire flag, set when a full listing finds a row
  that got an employee no longer in a hired stage (or gone: "deleted");
- ``unhired_acked_at``: when a person acknowledged the flag (``poller ack``), so the next
  listing doesn't raise it again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from poller.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_STATES = "('pending','in_progress','done','failed','baseline')"
NEW_STATES = "('pending','in_progress','done','failed','baseline','settling','withdrawn')"


def upgrade() -> None:
    with op.batch_alter_table("processed_applications") as batch:
        batch.add_column(sa.Column("hired_at", UTCDateTime()))
        batch.add_column(sa.Column("withdrawn_stage", sa.String(200)))
        batch.add_column(sa.Column("unhired_at", UTCDateTime()))
        batch.add_column(sa.Column("unhired_stage", sa.String(200)))
        batch.add_column(sa.Column("unhired_acked_at", UTCDateTime()))
        batch.drop_constraint("ck_processed_applications_state", type_="check")
        batch.create_check_constraint("ck_processed_applications_state", f"state IN {NEW_STATES}")
    op.create_index("ix_processed_applications_unhired", "processed_applications", ["unhired_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_applications_unhired", table_name="processed_applications")
    with op.batch_alter_table("processed_applications") as batch:
        batch.drop_constraint("ck_processed_applications_state", type_="check")
        batch.create_check_constraint("ck_processed_applications_state", f"state IN {OLD_STATES}")
        batch.drop_column("unhired_acked_at")
        batch.drop_column("unhired_stage")
        batch.drop_column("unhired_at")
        batch.drop_column("withdrawn_stage")
        batch.drop_column("hired_at")
