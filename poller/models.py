"""Plain domain values passed between the clients, the mapping and the sync flow.

The clients parse upstream bodies (with pydantic) into these; nothing else sees raw JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

HIRED = "hired"  # Pinpoint's stage basic_type for a hire, whatever the stage is called


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
