"""The ledger's tables. Alembic's migrations create them; this module only describes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from poller.models import ChangeAction, State


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no offsets, PostgreSQL does."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("the ledger stores only timezone-aware datetimes")
        aware: datetime = value.astimezone(UTC)
        return aware if dialect.name == "postgresql" else aware.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The newest migration in migrations/versions. tests/unit/test_ledger.py checks they agree.
HEAD_REVISION = "0006"

metadata = MetaData()

# Column names are the interface in design.md: people query this table directly.
processed_applications = Table(
    "processed_applications",
    metadata,
    Column("application_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime()),
    Column("claimed_by", String(128)),
    Column("lease_expires_at", UTCDateTime()),
    Column("hibob_employee_id", String(64)),
    Column("employee_link", String(16)),
    Column("cv_document_id", String(64)),
    Column("cv_status", String(16)),
    Column("pinpoint_comment_id", String(64)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime()),
    # Beyond the contract: what a person needs to read a row, and the intent markers that
    # make each step safe to repeat after a crash.
    Column("candidate_name", String(300)),
    Column("email", String(320)),
    Column("pinpoint_updated_at", UTCDateTime()),
    Column("create_started_at", UTCDateTime()),
    Column("cv_started_at", UTCDateTime()),
    Column("comment_started_at", UTCDateTime()),
    Column("last_error_step", String(32)),
    # What the mapping decided (migration 0003): work.startDate and where it came from
    # ("offer", "application" or "default"), and what it left out or changed.
    Column("start_date", Date),
    Column("start_date_source", String(16)),
    Column("mapping_notes", Text),
    # Hires that change their mind (migration 0004): when it entered its hired stage (the
    # settle window counts from it), the stage a withdrawn one moved to, and the un-hire flag.
    Column("hired_at", UTCDateTime()),
    Column("withdrawn_stage", String(200)),
    Column("unhired_at", UTCDateTime()),
    Column("unhired_stage", String(200)),
    Column("unhired_acked_at", UTCDateTime()),
    # After the hire (migration 0005): what the product last saw of the hire in Pinpoint, as
    # JSON (start date, names, email, mapped site, department and title), compared with each
    # new sighting; changed by compare-and-set in the commit that records the change.
    Column("watched", Text),
    CheckConstraint(
        f"state IN ({','.join(repr(s.value) for s in State)})",
        name="ck_processed_applications_state",
    ),
    # The claim walks this index in its ORDER BY and stops at its LIMIT (migration 0002).
    Index("ix_processed_applications_due", "state", "next_attempt_at", "created_at"),
    Index("ix_processed_applications_updated_at", "updated_at"),
    Index("ix_processed_applications_unhired", "unhired_at"),
)

# One line per step outcome: `poller show` prints it as the row's history.
application_events = Table(
    "application_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "application_id",
        String(64),
        ForeignKey("processed_applications.application_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("step", String(32), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("message", Text),
    Column("worker", String(128)),
    Index("ix_application_events_app", "application_id", "id"),
)

# After the hire: one row per change seen in Pinpoint (application, field, new value), and
# what became of it. Column names are the interface in design.md.
application_changes = Table(
    "application_changes",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "application_id",
        String(64),
        ForeignKey("processed_applications.application_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("field", String(16), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("detected_at", UTCDateTime(), nullable=False),
    Column("action", String(16), nullable=False),
    Column("synced_at", UTCDateTime()),
    Column("acked_at", UTCDateTime()),
    Column("note", Text),
    # The write a sync makes (JSON), and the lease and intent that make it exactly once.
    Column("payload", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime()),
    Column("claimed_by", String(128)),
    Column("lease_expires_at", UTCDateTime()),
    Column("sync_started_at", UTCDateTime()),
    CheckConstraint(
        f"action IN ({','.join(repr(a.value) for a in ChangeAction)})",
        name="ck_application_changes_action",
    ),
    Index("ix_application_changes_app", "application_id", "id"),
    Index("ix_application_changes_action", "action", "acked_at"),
)

# Notifications (migration 0006): events for the people who act, written in the commit of
# what caused them, delivered after the cycle's work. Each target's progress is a cursor in
# poller_state ("notify_cursor:<hash of its URL>"): the last event id it took.
notifications = Table(
    "notifications",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "application_id",
        String(64),
        ForeignKey("processed_applications.application_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event", String(16), nullable=False),  # failed, unhired, changed or done
    Column("summary", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_notifications_created_at", "created_at"),
)

# Small key/value facts: the watermark, the last poll, the first cycle.
poller_state = Table(
    "poller_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text),
    Column("updated_at", UTCDateTime(), nullable=False),
)
