"""What the mapping decided, in the row: the start date and its source, and mapping notes.

``start_date_source`` says where work.startDate came from (the accepted offer's start_on,
the application's, or the configured default offset); ``mapping_notes`` says what was left
out or changed (a title HiBob's list lacks, for example).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_applications") as batch:
        batch.add_column(sa.Column("start_date", sa.Date()))
        batch.add_column(sa.Column("start_date_source", sa.String(16)))
        batch.add_column(sa.Column("mapping_notes", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("processed_applications") as batch:
        batch.drop_column("mapping_notes")
        batch.drop_column("start_date_source")
        batch.drop_column("start_date")
