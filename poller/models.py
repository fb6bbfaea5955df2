"""Plain domain values passed between the clients, the mapping and the sync flow.

The clients parse upstream bodies (with pydantic) into these; nothing else sees raw JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Stage:
    id: str
    name: str


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


@dataclass(frozen=True)
class Listing:
    hires: tuple[HireSummary, ...]
    used_updated_filter: bool  # False when Pinpoint rejected filter[updated_at] and we fell back
    requests: int


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
    department: str | None
    location: str | None
    offer_start_date: date | None
    attachments: tuple[Attachment, ...] = ()
    # Every attribute as Pinpoint sent it (minus attachments), for mapping.extra_fields templates.
    attributes: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EmployeePayload:
    """The JSON body for HiBob POST /people, and the email it is keyed on (lower-cased)."""

    body: dict[str, Any]
    email: str


@dataclass(frozen=True)
class Document:
    id: str | None
    name: str
    tags: tuple[str, ...] = ()
