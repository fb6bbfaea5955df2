"""Pinpoint client: resolve hired stages, list hires, fetch one application, comment.

Built against /shared/api/pinpoint.md. The parse_* functions are pure (body -> domain
values) so they can be tested, and fuzzed, without HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import structlog
from pydantic import BaseModel

from poller import metrics
from poller.errors import InvalidResponse, PermanentError
from poller.http import HttpClient, parse_json
from poller.models import Application, Attachment, HiredStages, HireSummary, Job, Listing, Stage
from poller.wire import (
    ApplicationAttributes,
    ApplicationDocument,
    ApplicationPage,
    CreatedDocument,
    JobAttributes,
    JobRelationships,
    JobsPage,
    LocationAttributes,
    OfferAttributes,
    Ref,
    Resource,
    StageAttributes,
    StageRelationships,
    validate,
)

log = structlog.get_logger("poller.pinpoint")

# Recorded as the comment id when Pinpoint accepted a comment (2xx) but its answer was unreadable.
UNKNOWN_COMMENT_ID = "posted (id unknown)"

API = "pinpoint"
ENDPOINT_JOBS = "GET /jobs"
ENDPOINT_APPLICATIONS = "GET /applications"
ENDPOINT_APPLICATION = "GET /applications/{id}"
ENDPOINT_COMMENT = "POST /comments"
# Applications of confidential jobs are left out unless asked for: always ask.
JOB_VISIBILITY = "external,internal,private_job,confidential"
JSONAPI = "application/vnd.api+json"
MAX_PAGE_SIZE = 100
# A server that ignores page[number] would otherwise be paged forever.
MAX_PAGES = 10_000


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)
M = TypeVar("M", bound=BaseModel)


@dataclass
class _Tally:
    requests: int = 0


def parse_jobs_page(body: object) -> list[Job]:
    """One page of GET /jobs?include=stages. A stage belongs to a job when the job lists
    it under relationships.stages, or the stage names the job under relationships.job."""
    page = validate(JobsPage, body, api=API, endpoint=ENDPOINT_JOBS)
    stages: dict[str, Stage] = {}
    stage_job: dict[str, str] = {}
    for i, res in enumerate(page.included):
        if res.type != "stages":
            continue
        where: tuple[Any, ...] = ("included", i)
        attrs = validate(
            StageAttributes,
            res.attributes,
            api=API,
            endpoint=ENDPOINT_JOBS,
            prefix=(*where, "attributes"),
        )
        rels = validate(
            StageRelationships,
            res.relationships,
            api=API,
            endpoint=ENDPOINT_JOBS,
            prefix=(*where, "relationships"),
        )
        stages[res.id] = Stage(id=res.id, name=attrs.name)
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


def parse_listing_page(body: object) -> list[HireSummary]:
    """One page of GET /applications."""
    page = validate(ApplicationPage, body, api=API, endpoint=ENDPOINT_APPLICATIONS)
    rows: list[HireSummary] = []
    for row in page.data:
        stage = row.relationships.stage.data if row.relationships.stage else None
        job = row.relationships.job.data if row.relationships.job else None
        rows.append(
            HireSummary(
                id=row.id,
                updated_at=row.attributes.updated_at,
                stage_id=stage.id if stage else None,
                job_id=job.id if job else None,
            )
        )
    return rows


def _included(
    index: dict[tuple[str, str], tuple[int, Resource]], kind: str, ref: Ref | None
) -> tuple[tuple[Any, ...], Resource] | None:
    """The included resource a relationship points to, with its path for error messages."""
    found = index.get((kind, ref.id)) if ref is not None else None
    return (("included", found[0]), found[1]) if found else None


def _app_part(model: type[M], data: object, prefix: tuple[Any, ...] = ()) -> M:
    return validate(model, data, api=API, endpoint=ENDPOINT_APPLICATION, prefix=prefix)


def parse_application(body: object) -> Application:
    """GET /applications/{id} with attachments, job (and its location) and offers."""
    doc = _app_part(ApplicationDocument, body)
    attrs = _app_part(ApplicationAttributes, doc.data.attributes, prefix=("data", "attributes"))
    index = {(res.type, res.id): (i, res) for i, res in enumerate(doc.included)}
    job_ref = doc.data.relationships.job.data if doc.data.relationships.job else None
    job: JobAttributes | None = None
    location: str | None = None
    found_job = _included(index, "jobs", job_ref)
    if found_job is not None:
        path, res = found_job
        job = _app_part(JobAttributes, res.attributes, prefix=(*path, "attributes"))
        rels = _app_part(JobRelationships, res.relationships, prefix=(*path, "relationships"))
        found_loc = _included(index, "locations", rels.location.data if rels.location else None)
        if found_loc is not None:
            path, res = found_loc
            place = _app_part(LocationAttributes, res.attributes, prefix=(*path, "attributes"))
            location = place.name
    start = None
    for i, res in enumerate(doc.included):
        if res.type == "offers":
            offer = _app_part(OfferAttributes, res.attributes, prefix=("included", i, "attributes"))
            if offer.start_date is not None:
                start = offer.start_date
                break
    attachments = tuple(
        Attachment(context=a.context, filename=a.filename or "", url=a.url)
        for a in attrs.attachments or ()
        if a.context and a.url
    )
    return Application(
        id=doc.data.id,
        first_name=attrs.first_name,
        last_name=attrs.last_name,
        email=attrs.email,
        phone=attrs.phone,
        updated_at=attrs.updated_at,
        job_id=job_ref.id if job_ref else None,
        job_title=job.title if job else None,
        department=job.department.name if job and job.department else None,
        location=location,
        offer_start_date=start,
        attachments=attachments,
        attributes={k: v for k, v in doc.data.attributes.items() if k != "attachments"},
    )


def parse_comment(body: object) -> str:
    return validate(CreatedDocument, body, api=API, endpoint=ENDPOINT_COMMENT, status=201).data.id


class PinpointClient:
    def __init__(self, http: HttpClient, *, page_size: int = 100) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._http = http
        self._page_size = page_size
        # Set False once Pinpoint rejects filter[updated_at], so later cycles skip the 400.
        self._updated_filter_ok = True

    @classmethod
    def headers(cls, api_key: str) -> dict[str, str]:
        return {"X-API-KEY": api_key, "Accept": JSONAPI}

    def _all_pages(
        self,
        path: str,
        endpoint: str,
        params: dict[str, str],
        parse: Callable[[object], list[T]],
        tally: _Tally,
    ) -> list[T]:
        """Every page, in order, until the first short one; rows deduplicated by id."""
        rows: dict[str, T] = {}
        for number in count(1):
            if number > MAX_PAGES:
                raise InvalidResponse(f"more than {MAX_PAGES} pages", api=API, endpoint=endpoint)
            tally.requests += 1  # counted before the call: a refused request is one too
            resp = self._http.request(
                "GET",
                path,
                endpoint=endpoint,
                params={**params, "page[number]": str(number), "page[size]": str(self._page_size)},
            )
            page = parse(parse_json(resp, API, endpoint))
            fresh = [row for row in page if row.id not in rows]
            if page and not fresh:
                raise InvalidResponse(
                    f"page {number} only repeats earlier rows (is page[number] ignored?)",
                    api=API,
                    endpoint=endpoint,
                    status=resp.status_code,
                )
            for row in fresh:
                rows[row.id] = row
            if len(page) < self._page_size:
                break
        return list(rows.values())

    def list_jobs(self) -> list[Job]:
        return self._all_pages(
            "/jobs", ENDPOINT_JOBS, {"include": "stages"}, parse_jobs_page, _Tally()
        )

    def resolve_hired_stages(self, names: Sequence[str], ids: Sequence[str]) -> HiredStages:
        """Stage ids whose name matches (trimmed, ignoring case) or whose id is listed.

        With ids only, /jobs is not called: explicit ids are the way around a tenant
        where the jobs listing doesn't carry stages.
        """
        wanted = {n.strip().casefold() for n in names if n.strip()}
        explicit = {i for i in ids if i}
        if not wanted:
            return HiredStages(stage_ids=frozenset(explicit))
        found = set(explicit)
        without: list[Job] = []
        for job in self.list_jobs():
            hits = {
                s.id for s in job.stages if s.name.strip().casefold() in wanted or s.id in explicit
            }
            found |= hits
            if not hits:
                without.append(job)
        return HiredStages(stage_ids=frozenset(found), jobs_without_hired_stage=tuple(without))

    def list_hired(self, stage_ids: Collection[str], updated_since: datetime | None) -> Listing:
        """Applications in the hired stages, newest change first.

        Newest first because page-number paging shifts rows when data changes mid-listing:
        a fresh update moves a row to the front, so later pages repeat a row (deduplicated)
        rather than skip one.
        """
        tally = _Tally()
        if not stage_ids:  # an empty filter[stage_id] could mean "every application"
            return Listing(hires=(), used_updated_filter=updated_since is not None, requests=0)
        params = {
            "filter[stage_id]": ",".join(sorted(stage_ids)),
            "filter[job_visibility]": JOB_VISIBILITY,
            "sort": "-updated_at",
        }
        if updated_since is not None and self._updated_filter_ok:
            since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
            filtered = {**params, "filter[updated_at][gte]": since.isoformat()}
            try:
                rows = self._all_pages(
                    "/applications", ENDPOINT_APPLICATIONS, filtered, parse_listing_page, tally
                )
                return Listing(hires=tuple(rows), used_updated_filter=True, requests=tally.requests)
            except PermanentError as exc:
                if exc.status != 400:
                    raise
                self._updated_filter_ok = False
                log.warning(
                    "pinpoint.updated_filter_rejected",
                    error=exc.message,
                    action="listing every hire from now on, deduplicated locally",
                )
        if updated_since is not None:
            metrics.discovery_fallback_total.inc()
        rows = self._all_pages(
            "/applications", ENDPOINT_APPLICATIONS, params, parse_listing_page, tally
        )
        return Listing(hires=tuple(rows), used_updated_filter=False, requests=tally.requests)

    def get_application(self, app_id: str) -> Application:
        resp = self._http.request(
            "GET",
            f"/applications/{quote(app_id, safe='')}",
            endpoint=ENDPOINT_APPLICATION,
            params={"extra_fields[applications]": "attachments", "include": "job,offers"},
        )
        return parse_application(parse_json(resp, API, ENDPOINT_APPLICATION))

    def post_comment(self, app_id: str, body_text: str) -> str:
        """Post a comment; returns its id. Not retried once it may have arrived: every
        comment notifies the hiring team, and Pinpoint can't list them to check."""
        payload = {
            "data": {
                "type": "comments",
                "attributes": {"body_text": body_text},
                "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
            }
        }
        try:
            resp = self._http.request(
                "POST",
                "/comments",
                endpoint=ENDPOINT_COMMENT,
                idempotent=False,
                json=payload,
                headers={"Content-Type": JSONAPI},
            )
            return parse_comment(parse_json(resp, API, ENDPOINT_COMMENT))
        except InvalidResponse as exc:
            if exc.status is None or not 200 <= exc.status < 300:
                raise
            # A 2xx means Pinpoint took the comment, even if its answer is unreadable (too
            # large, not JSON): posting again would notify the hiring team twice.
            log.warning("pinpoint.comment_answer_unreadable", status=exc.status)
            return UNKNOWN_COMMENT_ID
