"""Pinpoint client: list hires by stage basic type, fetch one application, comments.

Built against shared/api/pinpoint.md; the bodies are parsed by ``poller.pinpoint_parse``.
Every listing and fetch asks for confidential jobs too. Keys are scoped per resource, so a
403 is re-worded to name the scope the endpoint needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import structlog

from poller import metrics
from poller.errors import AuthError, InvalidResponse, PermanentError
from poller.models import HIRED, Application, Comment, HiredStages, Job, Listing, RefusedFilter
from poller.upstream.http import Answer, HttpClient
from poller.upstream.http_errors import parse_json
from poller.upstream.pinpoint_parse import (
    API,
    ENDPOINT_APPLICATION,
    ENDPOINT_APPLICATIONS,
    ENDPOINT_COMMENT,
    ENDPOINT_COMMENTS,
    ENDPOINT_JOBS,
    parse_application,
    parse_comment,
    parse_comments_page,
    parse_jobs_page,
    parse_listing_page,
)

log = structlog.get_logger("poller.pinpoint")

# Recorded as the comment id when Pinpoint accepted a comment (2xx) but its answer was
# unreadable and the comment could not be found in the application's comments either.
UNKNOWN_COMMENT_ID = "posted (id unknown)"

# Applications of confidential jobs are left out unless asked for: always ask.
JOB_VISIBILITY = "external,internal,private_job,confidential"
APPLICATION_INCLUDE = "job,job.location,job.department,offers,stage"
# A listing brings what the watch compares after a hire, with no request per hire.
LISTING_INCLUDE = "job,job.location,job.department,offers"
JSONAPI = "application/vnd.api+json"
MAX_PAGE_SIZE = 1000
# A server that ignores page[number] would otherwise be paged forever.
MAX_PAGES = 10_000

BASIC_TYPE_FILTER = "filter[stage_basic_type]"
UPDATED_FILTER = "filter[updated_at][gt]"  # [gt] and [lt] are the documented operators
VISIBILITY_FILTER = "filter[job_visibility]"
SORT = "sort"
INCLUDE = "include"
# What a listing can do without, in the order tried when a 400 doesn't say what it refuses.
OPTIONAL_PARAMETERS = (SORT, INCLUDE, UPDATED_FILTER, BASIC_TYPE_FILTER)
_MENTIONS = {
    BASIC_TYPE_FILTER: "stage_basic_type",
    UPDATED_FILTER: "updated_at",
    VISIBILITY_FILTER: "job_visibility",
    SORT: "sort",
    INCLUDE: "include",
}

# The key scope each endpoint needs (Pinpoint: Settings > API Keys), for 403 messages.
SCOPES = {
    ENDPOINT_JOBS: "Jobs: read, and Stages: read",
    ENDPOINT_APPLICATIONS: "Applications: read",
    ENDPOINT_APPLICATION: (
        "Applications: read, and read of what it includes (Jobs, Locations, Departments, "
        "Offers, Stages)"
    ),
    ENDPOINT_COMMENTS: "Comments: read",
    ENDPOINT_COMMENT: "Applications: write (comments are written on applications)",
}


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


@dataclass
class _Tally:
    requests: int = 0


def mentions_employee(body_text: str, employee_id: str) -> bool:
    """Whether a comment carries this HiBob employee id (a whole number, not a part of one)."""
    return re.search(rf"(?<!\d){re.escape(employee_id)}(?!\d)", body_text) is not None


class PinpointClient:
    def __init__(self, http: HttpClient, *, page_size: int = 100) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._http = http
        self._page_size = page_size

    @classmethod
    def headers(cls, api_key: str) -> dict[str, str]:
        return {"X-API-KEY": api_key, "Accept": JSONAPI}

    def _call(self, method: str, path: str, *, endpoint: str, **kw: Any) -> Answer:
        """One request; a 403 is re-raised naming the scope this endpoint needs."""
        try:
            return self._http.request(method, path, endpoint=endpoint, **kw)
        except AuthError as exc:
            if exc.status != 403:
                raise
            error = AuthError(
                f"{exc.message}; the API key needs {SCOPES[endpoint]} "
                "(Pinpoint: Settings > API Keys)",
                api=API,
                endpoint=endpoint,
                status=403,
                key=exc.key,
            )
        raise error

    def _all_pages(
        self,
        path: str,
        endpoint: str,
        params: dict[str, str],
        parse: Callable[[object], list[T]],
        tally: _Tally,
    ) -> list[T]:
        """Every page, in order, until the first short one; rows deduplicated by id."""
        size = self._page_size
        rows: dict[str, T] = {}
        for number in count(1):
            if number > MAX_PAGES:
                raise InvalidResponse(f"more than {MAX_PAGES} pages", api=API, endpoint=endpoint)
            tally.requests += 1  # counted before the call: a refused request is one too
            resp = self._call(
                "GET",
                path,
                endpoint=endpoint,
                params={**params, "page[number]": str(number), "page[size]": str(size)},
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
            if len(page) < size:
                break
        return list(rows.values())

    # -- jobs ------------------------------------------------------------------------------

    def list_jobs(self, *, stages: bool = True) -> list[Job]:
        params = {"filter[visibility]": JOB_VISIBILITY}
        if stages:
            params["include"] = "stages"
        return self._all_pages("/jobs", ENDPOINT_JOBS, params, parse_jobs_page, _Tally())

    def resolve_hired_stages(self, names: Sequence[str], ids: Sequence[str]) -> HiredStages:
        """Stage ids whose name matches (trimmed, ignoring case) or whose id is listed; with
        neither, the stages whose basic type is hired.

        With ids only, /jobs is not called.
        """
        wanted = {n.strip().casefold() for n in names if n.strip()}
        explicit = {i for i in ids if i}
        if explicit and not wanted:
            return HiredStages(stage_ids=frozenset(explicit))
        found = set(explicit)
        without: list[Job] = []
        for job in self.list_jobs():
            hits = {
                s.id
                for s in job.stages
                if s.id in explicit
                or (s.name.strip().casefold() in wanted if wanted else s.basic_type == HIRED)
            }
            found |= hits
            if not hits:
                without.append(job)
        return HiredStages(stage_ids=frozenset(found), jobs_without_hired_stage=tuple(without))

    # -- hires -----------------------------------------------------------------------------

    def list_hired(
        self,
        updated_since: datetime | None,
        *,
        refused: Collection[str] = (),
        hired_stage_ids: Callable[[], frozenset[str]],
    ) -> Listing:
        """Applications in a hired stage (by basic type), newest change first.

        ``refused``: parameters Pinpoint refused before, left out. A parameter refused now is
        dropped and the listing asked again; the Listing reports it. Without the basic-type
        filter, rows are kept by ``hired_stage_ids()`` (resolved from /jobs) instead.

        Newest first because page-number paging shifts rows when data changes mid-listing:
        a fresh update moves a row to the front, so later pages repeat a row (deduplicated)
        rather than skip one.
        """
        tally = _Tally()
        params = {
            BASIC_TYPE_FILTER: HIRED,
            VISIBILITY_FILTER: JOB_VISIBILITY,
            SORT: "-updated_at",
            INCLUDE: LISTING_INCLUDE,
        }
        if updated_since is not None:
            since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
            params[UPDATED_FILTER] = since.isoformat()
        for name in refused:
            params.pop(name, None)
        newly: list[RefusedFilter] = []
        while True:
            try:
                rows = self._all_pages(
                    "/applications", ENDPOINT_APPLICATIONS, params, parse_listing_page, tally
                )
                break
            except AuthError as exc:
                # A key without read of what the listing includes (jobs, offers, ...): list
                # without it; the watch then fetches hires on their own.
                if exc.status != 403 or INCLUDE not in params:
                    raise
                params.pop(INCLUDE)
                newly.append(RefusedFilter(INCLUDE, exc.message))
                log.warning("pinpoint.filter_refused", parameter=INCLUDE, error=exc.message)
            except PermanentError as exc:
                if exc.status != 400:
                    raise
                blamed = _blamed_parameter(exc, params)
                if blamed is None:
                    raise
                params.pop(blamed)
                newly.append(RefusedFilter(blamed, exc.message))
                log.warning(
                    "pinpoint.filter_refused",
                    parameter=blamed,
                    error=exc.message,
                    action="listing again without it, and remembering that",
                )
        if BASIC_TYPE_FILTER not in params:
            hired = hired_stage_ids()
            rows = [r for r in rows if r.stage_id in hired]
        used_updated = UPDATED_FILTER in params
        if updated_since is not None and not used_updated:
            metrics.discovery_fallback_total.inc()
        return Listing(tuple(rows), used_updated, tally.requests, tuple(newly))

    def sample_application_ids(self, include: str | None = None) -> list[str]:
        """One application's id (a single request of one row), e.g. to prove a key's read
        scope; ``include`` proves the scope of what it includes too."""
        params = {VISIBILITY_FILTER: JOB_VISIBILITY, "page[size]": "1", "page[number]": "1"}
        if include:
            params["include"] = include
        resp = self._call("GET", "/applications", endpoint=ENDPOINT_APPLICATIONS, params=params)
        return [row.id for row in parse_listing_page(parse_json(resp, API, ENDPOINT_APPLICATIONS))]

    def get_application(self, app_id: str) -> Application:
        resp = self._call(
            "GET",
            f"/applications/{quote(app_id, safe='')}",
            endpoint=ENDPOINT_APPLICATION,
            params={
                "extra_fields[applications]": "attachments",
                "include": APPLICATION_INCLUDE,
                # Without it, an application of a confidential job answers 404.
                VISIBILITY_FILTER: JOB_VISIBILITY,
            },
        )
        return parse_application(parse_json(resp, API, ENDPOINT_APPLICATION))

    # -- comments --------------------------------------------------------------------------

    def list_comments(self, app_id: str) -> list[Comment]:
        params = {"filter[commentable_type]": "Application", "filter[commentable_id]": app_id}
        return self._all_pages(
            "/comments", ENDPOINT_COMMENTS, params, parse_comments_page, _Tally()
        )

    def find_comment(self, app_id: str, employee_id: str) -> str | None:
        """The id of a comment on the application that carries this employee id, if any."""
        for comment in self.list_comments(app_id):
            if mentions_employee(comment.body_text, employee_id):
                return comment.id
        return None

    def post_comment(self, app_id: str, body_text: str) -> str:
        """Post a comment; returns its id. Not retried once it may have arrived: every
        comment notifies the hiring team. The caller lists comments after an uncertain
        attempt instead (``find_comment``)."""
        payload = {
            "data": {
                "type": "comments",
                "attributes": {"body_text": body_text},
                "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
            }
        }
        try:
            resp = self._call(
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
        # A 2xx means Pinpoint took the comment, even if its answer is unreadable (too large,
        # not JSON): posting again would notify the hiring team twice. Look up its id.
        log.warning("pinpoint.comment_answer_unreadable")
        posted = [c.id for c in self.list_comments(app_id) if c.body_text == body_text]
        return posted[-1] if posted else UNKNOWN_COMMENT_ID


def _blamed_parameter(exc: PermanentError, params: dict[str, str]) -> str | None:
    """The parameter a 400 refused: the one it names (source.parameter, else its text), or,
    when it names none, the next optional one to try without. A refusal of the visibility
    filter is not survivable (confidential hires would be lost), so it is raised."""
    named = exc.parameter if exc.parameter in params else None
    if named is None:
        text = exc.message.casefold()
        named = next((p for p, word in _MENTIONS.items() if p in params and word in text), None)
    if named == VISIBILITY_FILTER:
        raise PermanentError(
            f"Pinpoint refused {VISIBILITY_FILTER} ({exc.message}); without it hires at "
            "confidential jobs can't be listed, so the listing stops here",
            api=API,
            endpoint=ENDPOINT_APPLICATIONS,
            status=exc.status,
            key=exc.key,
        ) from None
    if named is not None:
        return named
    return next((p for p in OPTIONAL_PARAMETERS if p in params), None)
