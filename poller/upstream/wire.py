"""Pydantic models of the upstream bodies the clients read, and their error translation.

Only the fields the poller uses are modelled; everything else is ignored, so additions
upstream never break parsing. A body of the wrong shape becomes InvalidResponse naming
the field path (``data[3].attributes.updated_at: not a valid datetime``) and never the
value found there, which may be personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from poller.errors import InvalidResponse
from poller.upstream.http_errors import clean_text


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _number_to_str(value: object) -> object:
    # HiBob document ids and Pinpoint webhook ids are JSON numbers; the poller keeps text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _assume_utc(value: datetime) -> datetime:
    # A timestamp without an offset is taken as UTC, so comparisons never mix naive and aware.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# Upstream ids are short digit strings; the bound keeps a hostile body out of the ledger.
Id = Annotated[
    Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)],
    BeforeValidator(_number_to_str),
]
Timestamp = Annotated[datetime, AfterValidator(_assume_utc)]


# --- JSON:API building blocks (Pinpoint) ---------------------------------------------


class Ref(Wire):
    type: str
    id: Id


class ToOne(Wire):
    data: Ref | None = None


class ToMany(Wire):
    data: list[Ref] | None = None


class Resource(Wire):
    """An included resource; its attributes are validated per type by the client."""

    type: str
    id: Id
    attributes: dict[str, Any] = {}
    relationships: dict[str, Any] = {}


# --- Pinpoint: application listing ---------------------------------------------------


class RowAttributes(Wire):
    updated_at: Timestamp
    # Listings carry the ids as attributes too; relationships hold data only when included.
    stage_id: Id | None = None
    job_id: Id | None = None
    hired_at: Timestamp | None = None


class RowRelationships(Wire):
    stage: ToOne | None = None
    job: ToOne | None = None


class ApplicationRow(Wire):
    id: Id
    attributes: RowAttributes
    relationships: RowRelationships = RowRelationships()


class Total(Wire):
    count: int | None = None


class Stats(Wire):
    total: Total | None = None


class Meta(Wire):
    stats: Stats | None = None


class ApplicationPage(Wire):
    data: list[ApplicationRow]
    included: list[Resource] = []
    meta: Meta | None = None


# --- Pinpoint: jobs with stages ------------------------------------------------------


class JobRelationships(Wire):
    stages: ToMany | None = None
    location: ToOne | None = None
    department: ToOne | None = None


class JobAttributes(Wire):
    """Jobs have no department or location attribute: both are relationships."""

    title: str | None = None


class JobResource(Wire):
    id: Id
    attributes: JobAttributes = JobAttributes()
    relationships: JobRelationships = JobRelationships()


class JobsPage(Wire):
    data: list[JobResource]
    included: list[Resource] = []


class StageAttributes(Wire):
    name: str
    basic_type: str | None = None


class StageRelationships(Wire):
    job: ToOne | None = None


# --- Pinpoint: one application -------------------------------------------------------


class AttachmentWire(Wire):
    context: str | None = None
    filename: str | None = None
    url: str | None = None


class ApplicationAttributes(Wire):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    updated_at: Timestamp | None = None
    hired_at: Timestamp | None = None
    start_on: date | None = None
    stage_id: Id | None = None
    job_id: Id | None = None
    attachments: list[AttachmentWire] | None = None


class ApplicationRelationships(Wire):
    job: ToOne | None = None
    stage: ToOne | None = None
    offers: ToMany | None = None


class ApplicationResource(Wire):
    id: Id
    attributes: dict[str, Any] = {}
    relationships: ApplicationRelationships = ApplicationRelationships()


class ApplicationDocument(Wire):
    data: ApplicationResource
    included: list[Resource] = []


class NamedAttributes(Wire):
    """A location or a department: only the name is used."""

    name: str | None = None


class OfferAttributes(Wire):
    start_on: date | None = None
    status: str | None = None


class CommentAttributes(Wire):
    body_text: str | None = None


class CommentResource(Wire):
    id: Id
    attributes: CommentAttributes = CommentAttributes()


class CommentsPage(Wire):
    data: list[CommentResource]


class CreatedResource(Wire):
    id: Id


class CreatedDocument(Wire):
    """The answer to POST /comments: ``{"data": {"id": ...}}``."""

    data: CreatedResource


# --- HiBob ---------------------------------------------------------------------------


class IdAnswer(Wire):
    """Create-employee and document-upload answers: only ``id`` is relied on."""

    id: Id


class FieldValue(Wire):
    value: Any = None


class SearchEmployee(Wire):
    id: Id | None = None
    email: str | None = None
    root_id: FieldValue | None = Field(None, alias="/root/id")
    root_email: FieldValue | None = Field(None, alias="/root/email")


class SearchAnswer(Wire):
    employees: list[SearchEmployee]


class EmployeeFieldsItem(SearchEmployee):
    """A search answer's employee with the fields a read-back asks for, keyed by path."""

    first_name: FieldValue | None = Field(None, alias="/root/firstName")
    surname: FieldValue | None = Field(None, alias="/root/surname")
    start_date: FieldValue | None = Field(None, alias="/work/startDate")


class EmployeeFields(Wire):
    employees: list[EmployeeFieldsItem]


class DocInner(Wire):
    id: Id | None = None
    name: str
    tags: list[str] | None = None


class DocumentItem(Wire):
    """Either shape: spec ``{"documentName", "downloadLink"}`` or clients' ``{"doc": {...}}``."""

    document_name: str | None = Field(None, alias="documentName")
    id: Id | None = None
    tags: list[str] | None = None
    doc: DocInner | None = None


class DocumentsAnswer(Wire):
    documents: list[DocumentItem]


class ListItem(Wire):
    name: str
    archived: bool = False
    children: list[ListItem] = []


def _item_or_name(value: object) -> object:
    # Tolerated: a list of bare names under "values".
    return {"name": value} if isinstance(value, str) else value


class NamedList(Wire):
    """The reference documents ``items``; the live answer repeats them under ``values``."""

    items: list[ListItem] | None = None
    values: list[Annotated[ListItem, BeforeValidator(_item_or_name)]] | None = None


# --- validation with errors that name the field --------------------------------------

_SHORT = {
    "missing": "missing",
    "string_type": "not a string",
    "string_too_short": "empty",
    "string_too_long": "too long",
    "int_type": "not an integer",
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "bool_type": "not a boolean",
    "bool_parsing": "not a boolean",
    "list_type": "not a list",
    "dict_type": "not an object",
    "model_type": "not an object",
    "model_attributes_type": "not an object",
    "recursion_loop": "nested too deeply",
    "recursion_depth_exceeded": "nested too deeply",
}

M = TypeVar("M", bound=BaseModel)


def _describe(kind: str, msg: str) -> str:
    if kind in _SHORT:
        return _SHORT[kind]
    if kind.startswith("datetime"):
        return "not a valid datetime"
    if kind.startswith("date"):
        return "not a valid date"
    if kind.startswith(("int", "float")):
        return "not a valid number"
    return clean_text(msg, 120)


def field_path(loc: Sequence[int | str]) -> str:
    """("data", 3, "attributes") -> "data[3].attributes"; keys are bounded and cleaned."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = clean_text(str(part), 40)
            path += f".{name}" if path else name
    if len(path) > 160:  # deeply nested bodies: keep both ends readable
        path = f"{path[:60]}…{path[-90:]}"
    return path or "body"


def invalid_response(
    exc: ValidationError,
    *,
    api: str,
    endpoint: str,
    status: int | None = None,
    prefix: Sequence[int | str] = (),
) -> InvalidResponse:
    """A ValidationError as InvalidResponse: the first problem's path and kind, no input."""
    problems = exc.errors(include_url=False, include_context=False, include_input=False)
    first = problems[0]
    text = f"{field_path([*prefix, *first['loc']])}: {_describe(first['type'], first['msg'])}"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more)"
    return InvalidResponse(text, api=api, endpoint=endpoint, status=status)


def validate(
    model: type[M],
    data: object,
    *,
    api: str,
    endpoint: str,
    status: int | None = 200,
    prefix: Sequence[int | str] = (),
) -> M:
    """``model.model_validate(data)``, raising InvalidResponse instead of ValidationError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = invalid_response(exc, api=api, endpoint=endpoint, status=status, prefix=prefix)
    raise error  # outside the except block: the ValidationError (with inputs) isn't chained
