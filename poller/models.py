"""Plain domain values passed between the clients, the mapping and the sync flow.

The clients parse upstream bodies (with pydantic) into these; nothing else sees raw JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

HIRED = "hired"  # Pinpoint's stage basic_type for a hire, whatever the stage is called


def utcnow() -> datetime:
    """Now, as the ledger stores times: timezone-aware UTC."""
    return datetime.now(UTC)


class State(StrEnum):
    """processed_applications.state (design.md). How far a row got is in its checkpoints."""

    PENDING = "pending"  # waiting, perhaps until next_attempt_at
    IN_PROGRESS = "in_progress"  # under a lease
    DONE = "done"
    FAILED = "failed"
    BASELINE = "baseline"  # a hire that predates the first run, left alone on purpose
    SETTLING = "settling"  # hired less than discovery.settle_minutes ago; due at next_attempt_at
    WITHDRAWN = "withdrawn"  # left the hired stage before any write; pending again if it returns


class ChangeAction(StrEnum):
    """application_changes.action: what became of a change seen in Pinpoint after the hire."""

    PENDING = "pending"  # to be written to HiBob (a sync in progress or rescheduled)
    SYNCED = "synced"  # written to HiBob
    FLAGGED = "flagged"  # for a person: not written (by config, or the employee started)
    IGNORED = "ignored"  # by config, or superseded by a later value before it was written
    SYNC_FAILED = "sync_failed"  # HiBob refused it, or it could not be written: for a person


# A change a person has to look at, until `poller ack`.
OPEN_ACTIONS = (ChangeAction.FLAGGED, ChangeAction.SYNC_FAILED)
# The fields watched after the hire (application_changes.field).
CHANGE_FIELDS = ("start_date", "name", "email", "job")


ACTIVE_STATES = (State.PENDING, State.IN_PROGRESS)
FINAL_STATES = (State.DONE, State.FAILED)
# Not a state: `poller list --state unhired` selects the rows whose un-hire flag is up.
UNHIRED = "unhired"
# Not a state: `poller list --state changed` selects the rows with an open change.
CHANGED = "changed"
# The un-hire flag's stage for an application that is gone from Pinpoint (404).
DELETED_STAGE = "deleted"


class EmployeeLink(StrEnum):
    """processed_applications.employee_link: how the row got its HiBob employee."""

    CREATED = "created"
    LINKED_EXISTING = "linked_existing"  # HiBob had the email already (a rehire, say)


class CVStatus(StrEnum):
    """processed_applications.cv_status."""

    UPLOADED = "uploaded"
    ALREADY_THERE = "already_there"
    NONE = "none"  # the hire has no CV
    SKIPPED = "skipped"  # the CV couldn't be used; the row ends failed and says why


class Outcome(StrEnum):
    """What working one claimed row came to (the cycle summary counts these)."""

    DONE = "done"
    FAILED = "failed"
    RETRY = "retry"  # rescheduled: back to pending with next_attempt_at
    LOST = "lost"  # another worker took the lease over
    WITHDRAWN = "withdrawn"  # no longer hired when fetched: nothing was written


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    basic_type: str | None = None  # applied, review, interview, offer, hired or rejected


@dataclass(frozen=True)
class Job:
    id: str
    title: str
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class HiredStages:
    """The result of resolving hired stages: the stage ids, and the jobs that have none."""

    stage_ids: frozenset[str]
    jobs_without_hired_stage: tuple[Job, ...] = ()


@dataclass(frozen=True)
class HireSummary:
    """One row of the application listing: enough to record and order it."""

    id: str
    updated_at: datetime
    stage_id: str | None = None
    job_id: str | None = None
    hired_at: datetime | None = None
    # The application in full, when the listing included its job and offers (the watch).
    observed: Application | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Entry:
    """How a hire enters the table: its state, when it is due (settling), when it was hired."""

    state: State
    due: datetime | None
    hired_at: datetime


@dataclass(frozen=True)
class RefusedFilter:
    """A query parameter Pinpoint answered 400 to, and the reason it gave."""

    parameter: str
    reason: str


@dataclass(frozen=True)
class Listing:
    hires: tuple[HireSummary, ...]
    used_updated_filter: bool  # False when filter[updated_at] was not sent (refused, or off)
    requests: int
    # Parameters refused during this listing (the listing fell back without them).
    refused: tuple[RefusedFilter, ...] = ()


@dataclass(frozen=True)
class Attachment:
    context: str
    filename: str
    # A signed link: its query string is a credential. Never log or store it.
    url: str = field(repr=False)


@dataclass(frozen=True)
class Application:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    updated_at: datetime | None
    job_id: str | None
    job_title: str | None
    department: str | None  # the name of the job's department (a relationship)
    location: str | None  # the name of the job's location (a relationship)
    offer_start_on: date | None  # the accepted offer's start_on
    attachments: tuple[Attachment, ...] = ()
    start_on: date | None = None  # the application's own start_on
    hired_at: datetime | None = None
    stage_id: str | None = None
    stage_name: str | None = None
    stage_basic_type: str | None = None  # None when the stage was not included
    # Every attribute as Pinpoint sent it (minus attachments), for mapping.extra_fields templates.
    attributes: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EmployeePayload:
    """The JSON body for HiBob POST /people, and what the row records about how it was built."""

    body: dict[str, Any]
    email: str  # lower-cased: the key the employee is found by
    start_date: date
    start_source: str  # "offer", "application" or "default" (see mapping.START_SOURCES)
    notes: tuple[str, ...] = ()  # values left out or changed, said in the row


@dataclass(frozen=True)
class Comment:
    id: str
    body_text: str


@dataclass(frozen=True)
class Document:
    id: str | None
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    """One row of processed_applications, as loaded."""

    application_id: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    lease_expires_at: datetime | None
    hibob_employee_id: str | None
    employee_link: str | None
    cv_document_id: str | None
    cv_status: str | None
    pinpoint_comment_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    candidate_name: str | None
    email: str | None
    pinpoint_updated_at: datetime | None
    create_started_at: datetime | None
    cv_started_at: datetime | None
    comment_started_at: datetime | None
    last_error_step: str | None
    start_date: date | None
    start_date_source: str | None
    mapping_notes: str | None
    hired_at: datetime | None
    withdrawn_stage: str | None
    unhired_at: datetime | None
    unhired_stage: str | None
    unhired_acked_at: datetime | None
    watched: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ChangeRecord:
    """One row of application_changes, as loaded."""

    id: int
    application_id: str
    field: str
    old_value: str | None
    new_value: str | None
    detected_at: datetime
    action: str
    synced_at: datetime | None
    acked_at: datetime | None
    note: str | None
    payload: str | None
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    lease_expires_at: datetime | None
    sync_started_at: datetime | None

    @property
    def open(self) -> bool:
        return self.action in OPEN_ACTIONS and self.acked_at is None


@dataclass(frozen=True)
class Notice:
    """One event for the people who act (the notifications table), with the candidate."""

    id: int
    application_id: str
    event: str  # failed, unhired, changed or done
    summary: str | None
    created_at: datetime
    candidate_name: str | None


@dataclass(frozen=True)
class Event:
    at: datetime
    attempt: int
    step: str
    outcome: str
    message: str | None
    worker: str | None
