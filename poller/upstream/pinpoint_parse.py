"""Pure parsing of Pinpoint's JSON:API bodies (shared/api/pinpoint.md) into domain values.

No I/O: each function takes a decoded body and returns models, or raises InvalidResponse
naming the field path. Relationships carry ``data`` only when included, so every lookup of
an included resource tolerates its absence; ids are read from attributes first.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from poller.errors import InvalidResponse
from poller.models import Application, Attachment, Comment, HireSummary, Job, Stage
from poller.upstream.wire import (
    ApplicationAttributes,
    ApplicationDocument,
    ApplicationPage,
    ApplicationResource,
    CommentsPage,
    CreatedDocument,
    JobAttributes,
    JobRelationships,
    JobsPage,
    NamedAttributes,
    OfferAttributes,
    Ref,
    Resource,
    StageAttributes,
    StageRelationships,
    validate,
)

API = "pinpoint"
ENDPOINT_JOBS = "GET /jobs"
ENDPOINT_APPLICATIONS = "GET /applications"
ENDPOINT_APPLICATION = "GET /applications/{id}"
ENDPOINT_COMMENTS = "GET /comments"
ENDPOINT_COMMENT = "POST /comments"
ACCEPTED = "accepted"  # the offer status whose start_on counts

M = TypeVar("M", bound=BaseModel)
Path = tuple[Any, ...]


def _part(model: type[M], data: object, endpoint: str, prefix: Path = ()) -> M:
    return validate(model, data, api=API, endpoint=endpoint, prefix=prefix)


def parse_jobs_page(body: object) -> list[Job]:
    """One page of GET /jobs?include=stages. A stage belongs to a job when the job lists
    it under relationships.stages, or the stage names the job under relationships.job."""
    page = _part(JobsPage, body, ENDPOINT_JOBS)
    stages: dict[str, Stage] = {}
    stage_job: dict[str, str] = {}
    for i, res in enumerate(page.included):
        if res.type != "stages":
            continue
        where: Path = ("included", i)
        attrs = _part(StageAttributes, res.attributes, ENDPOINT_JOBS, (*where, "attributes"))
        rels = _part(
            StageRelationships, res.relationships, ENDPOINT_JOBS, (*where, "relationships")
        )
        basic = attrs.basic_type.strip().casefold() if attrs.basic_type else None
        stages[res.id] = Stage(id=res.id, name=attrs.name, basic_type=basic)
        if rels.job is not None and rels.job.data is not None:
            stage_job[res.id] = rels.job.data.id
    jobs: list[Job] = []
    for job in page.data:
        listed = job.relationships.stages.data if job.relationships.stages else None
        ids = [ref.id for ref in listed or () if ref.type == "stages"]
        ids += [sid for sid, jid in stage_job.items() if jid == job.id and sid not in ids]
        # A stage referenced but not included still counts for matching by id.
        own = tuple(stages.get(sid, Stage(id=sid, name="")) for sid in ids)
        jobs.append(Job(id=job.id, title=job.attributes.title or "", stages=own))
    return jobs


def _ref_id(rel: Any) -> str | None:
    data = getattr(rel, "data", None)
    return data.id if data is not None else None


def parse_listing_page(body: object) -> list[HireSummary]:
    """One page of GET /applications: ids from the attributes, else from included data.
    A row whose job (with its location and department) and offers are included also carries
    the application as the single fetch would give it (``observed``), else None."""
    page = _part(ApplicationPage, body, ENDPOINT_APPLICATIONS)
    raw_rows = body.get("data") if isinstance(body, dict) else None
    included = _Included(page.included)
    return [
        HireSummary(
            id=row.id,
            updated_at=row.attributes.updated_at,
            stage_id=row.attributes.stage_id or _ref_id(row.relationships.stage),
            job_id=row.attributes.job_id or _ref_id(row.relationships.job),
            hired_at=row.attributes.hired_at,
            observed=_observed(raw_rows[i], included) if isinstance(raw_rows, list) else None,
        )
        for i, row in enumerate(page.data)
    ]


def _has_data(relationships: object, name: str) -> bool:
    rel = relationships.get(name) if isinstance(relationships, dict) else None
    return isinstance(rel, dict) and "data" in rel


def _observed(raw: object, included: _Included) -> Application | None:
    """The listed application in full, when the listing brought everything the watch needs
    (it may have been refused its include, or ignored it); None otherwise, or when a part of
    it doesn't parse (the hire is then fetched on its own at the next full listing)."""
    if not isinstance(raw, dict):
        return None
    attrs, rels = raw.get("attributes"), raw.get("relationships")
    if not isinstance(attrs, dict) or not {"first_name", "last_name", "email"} <= attrs.keys():
        return None
    job_ref = rels.get("job", {}).get("data") if isinstance(rels, dict) else None
    found = included.get("jobs", str(job_ref.get("id"))) if isinstance(job_ref, dict) else None
    if found is None or not _has_data(rels, "offers"):
        return None
    job_rels = found[1].relationships
    if not (_has_data(job_rels, "location") and _has_data(job_rels, "department")):
        return None
    try:
        return _application(_part(ApplicationResource, raw, ENDPOINT_APPLICATIONS), included)
    except InvalidResponse:
        return None


class _Included:
    """The ``included`` array by (type, id), each with its path for error messages."""

    def __init__(self, included: list[Resource]) -> None:
        self._by_key = {(res.type, res.id): (i, res) for i, res in enumerate(included)}
        self._all = included

    def get(self, kind: str, ident: str | None) -> tuple[Path, Resource] | None:
        found = self._by_key.get((kind, ident)) if ident is not None else None
        return (("included", found[0]), found[1]) if found else None

    def of_type(self, kind: str) -> list[tuple[Path, Resource]]:
        return [(("included", i), r) for i, r in enumerate(self._all) if r.type == kind]


def _name_of(included: _Included, kind: str, ref: Ref | None) -> str | None:
    found = included.get(kind, ref.id if ref else None)
    if found is None:
        return None
    path, res = found
    return _part(NamedAttributes, res.attributes, ENDPOINT_APPLICATION, (*path, "attributes")).name


def _accepted_start(included: _Included, offer_ids: list[str] | None) -> date | None:
    """The start_on of the accepted offer (the last one listed, if several). An offer in
    another status may carry a stale date, so it is never used."""
    start = None
    for path, res in included.of_type("offers"):
        if offer_ids is not None and res.id not in offer_ids:
            continue
        offer = _part(OfferAttributes, res.attributes, ENDPOINT_APPLICATION, (*path, "attributes"))
        status = (offer.status or "").strip().casefold()
        if status == ACCEPTED and offer.start_on is not None:
            start = offer.start_on
    return start


def parse_application(body: object) -> Application:
    """GET /applications/{id} with attachments, and job, job.location, job.department,
    offers and stage included."""
    doc = _part(ApplicationDocument, body, ENDPOINT_APPLICATION)
    return _application(doc.data, _Included(doc.included))


def _application(data: ApplicationResource, included: _Included) -> Application:
    attrs = _part(
        ApplicationAttributes, data.attributes, ENDPOINT_APPLICATION, ("data", "attributes")
    )
    rels = data.relationships
    job_id = attrs.job_id or _ref_id(rels.job)
    title = location = department = None
    found_job = included.get("jobs", job_id)
    if found_job is not None:
        path, res = found_job
        job = _part(JobAttributes, res.attributes, ENDPOINT_APPLICATION, (*path, "attributes"))
        job_rels = _part(
            JobRelationships, res.relationships, ENDPOINT_APPLICATION, (*path, "relationships")
        )
        title = job.title
        location = _name_of(included, "locations", _data(job_rels.location))
        department = _name_of(included, "departments", _data(job_rels.department))
    stage_id = attrs.stage_id or _ref_id(rels.stage)
    stage_name = stage_type = None
    found_stage = included.get("stages", stage_id)
    if found_stage is not None:
        path, res = found_stage
        stage = _part(StageAttributes, res.attributes, ENDPOINT_APPLICATION, (*path, "attributes"))
        stage_name = stage.name
        stage_type = stage.basic_type.strip().casefold() if stage.basic_type else None
    offer_refs = rels.offers.data if rels.offers is not None else None
    attachments = tuple(
        Attachment(context=a.context, filename=a.filename or "", url=a.url)
        for a in attrs.attachments or ()
        if a.context and a.url
    )
    return Application(
        id=data.id,
        first_name=attrs.first_name,
        last_name=attrs.last_name,
        email=attrs.email,
        phone=attrs.phone,
        updated_at=attrs.updated_at,
        job_id=job_id,
        job_title=title,
        department=department,
        location=location,
        offer_start_on=_accepted_start(
            included, [r.id for r in offer_refs] if offer_refs is not None else None
        ),
        attachments=attachments,
        start_on=attrs.start_on,
        hired_at=attrs.hired_at,
        stage_id=stage_id,
        stage_name=stage_name,
        stage_basic_type=stage_type,
        attributes={k: v for k, v in data.attributes.items() if k != "attachments"},
    )


def _data(rel: Any) -> Ref | None:
    return getattr(rel, "data", None) if rel is not None else None


def parse_comments_page(body: object) -> list[Comment]:
    page = _part(CommentsPage, body, ENDPOINT_COMMENTS)
    return [Comment(id=c.id, body_text=c.attributes.body_text or "") for c in page.data]


def parse_comment(body: object) -> str:
    return validate(CreatedDocument, body, api=API, endpoint=ENDPOINT_COMMENT, status=201).data.id
