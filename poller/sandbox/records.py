"""The simulators' state records. Mutable, and only touched under the owning simulator's lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

STAGE_TYPES = ("applied", "review", "interview", "offer", "hired", "rejected")
VISIBILITIES = ("external", "internal", "private_job", "confidential")
OFFER_STATUSES = ("accepted", "pending", "declined", "withdrawn")  # pinpoint.md: [assumed]


@dataclass
class Location:
    id: str
    name: str


@dataclass
class Department:
    id: str
    name: str


@dataclass
class Stage:
    id: str
    name: str  # customers rename stages; the basic type stays
    job_id: str
    basic_type: str  # one of STAGE_TYPES

    @property
    def hired(self) -> bool:
        return self.basic_type == "hired"


@dataclass
class Job:
    id: str
    title: str
    department_id: str
    location_id: str
    visibility: str  # external | internal | private_job | confidential
    stage_ids: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass
class Attachment:
    context: str  # "cv" or "pdf_cv"
    filename: str
    content_type: str
    content: bytes = field(repr=False)
    token: str = field(repr=False)


@dataclass
class Offer:
    id: str
    start_on: date | None
    status: str = "accepted"  # one of OFFER_STATUSES; only "accepted" counts


@dataclass
class Application:
    id: str
    job_id: str
    stage_id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    attachments: list[Attachment] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    hired_at: datetime | None = None  # set on entering a hired stage, cleared on leaving it
    start_on: date | None = None  # the application's own start date, besides its offers


@dataclass(order=True)
class ScheduledMove:
    """A move that happens when the simulator clock reaches `at` (applied lazily)."""

    at: datetime
    order: int  # ties at one moment keep their scheduling order
    application_id: str = field(compare=False)
    stage_id: str = field(compare=False)


@dataclass
class Comment:
    id: str
    application_id: str
    body_text: str
    created_at: datetime


@dataclass
class Employee:
    id: str
    fields: dict[str, Any]  # the create payload's nested shape: firstName, work.site, ...
    lifecycle: str  # employed | hired | terminated
    created_at: datetime | None  # None: existed long before the simulation (no lag applies)
    # (time of a change, the fields just before it), oldest first: reads lag behind updates.
    history: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list, repr=False)

    @property
    def email(self) -> str:
        return str(self.fields.get("email", ""))

    @property
    def first_name(self) -> str:
        return str(self.fields.get("firstName", ""))

    @property
    def surname(self) -> str:
        return str(self.fields.get("surname", ""))

    @property
    def start_date(self) -> str | None:
        work = self.fields.get("work")
        value = work.get("startDate") if isinstance(work, dict) else None
        return str(value) if value is not None else None

    @property
    def updated_at(self) -> datetime | None:
        """When the last change after the create was applied (None: never changed)."""
        return self.history[-1][0] if self.history else None

    def fields_as_of(self, moment: datetime) -> dict[str, Any]:
        """The fields as they were at `moment`: those before the first change made after it."""
        return next((before for at, before in self.history if at > moment), self.fields)


@dataclass
class Document:
    id: str  # a string in every answer, as the recorded upload answer shows
    employee_id: str
    folder: str  # shared | confidential
    name: str
    tags: list[str]
    content: bytes = field(repr=False)
    content_type: str
    source: str  # url | upload
    created_at: datetime


@dataclass
class ListItem:
    id: int  # a number in named-list answers [doc]
    name: str
    archived: bool = False
    children: list[ListItem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "value": self.name,
            "name": self.name,
            "archived": self.archived,
            "children": [child.to_json() for child in self.children],
        }

    def walk(self) -> list[ListItem]:
        """This item and all its descendants."""
        items = [self]
        for child in self.children:
            items.extend(child.walk())
        return items
