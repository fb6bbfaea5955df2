"""Pinpoint's query parameters: paging, include paths, and the filters of each listing.

Every refusal is a 400 JSON:API error naming the parameter in `source.parameter`. What the
contract leaves [unknown] is decided by the switches in `Switches`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from .pinpoint_json import error_object, jsonapi_error, jsonapi_errors
from .records import STAGE_TYPES, VISIBILITIES, Application, Job, Stage
from .routing import Reject, Request

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DEFAULT_VISIBILITY = frozenset(VISIBILITIES) - {"confidential"}  # no confidential unless asked
TIME_FIELDS = ("updated_at", "created_at")
DOCUMENTED_OPS = ("gt", "lt")
UNDOCUMENTED_OPS = ("gte", "lte")  # what the real API does with them is [unknown]
APPLICATION_FILTERS = frozenset(
    {"filter[stage_id]", "filter[stage_basic_type]", "filter[job_id]", "filter[job_visibility]"}
    | {f"filter[{f}][{op}]" for f in TIME_FIELDS for op in DOCUMENTED_OPS + UNDOCUMENTED_OPS}
)
SORTS = {"updated_at", "-updated_at", "id", "-id"}

T = TypeVar("T")
KeepApplication = Callable[[Application, Job, Stage], bool]


@dataclass
class Switches:
    """The listing's behaviour where the contract is silent; see PinpointSim's docstring."""

    updated_at_filter: bool = True
    gte_filter: str = "reject"  # reject | ignore
    stage_id_list: str = "reject"  # reject | ignore
    stage_basic_type_filter: bool = True


def csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def refuse(parameter: str, detail: str) -> Reject:
    return Reject(jsonapi_error(400, detail, parameter))


def parse_time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))  # a '+' may arrive unescaped
    except ValueError:
        raise refuse(name, f"{name} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def paging(request: Request) -> tuple[int, int]:
    """page[number] (from 1) and page[size] (default 100, at most 1000)."""
    sizes = {"page[number]": 1, "page[size]": DEFAULT_PAGE_SIZE}
    for name, default in sizes.items():
        raw = request.arg(name)
        try:
            sizes[name] = int(raw) if raw is not None else default
        except ValueError:
            raise refuse(name, f"{name} must be an integer") from None
    number, size = sizes["page[number]"], sizes["page[size]"]
    if number < 1:
        raise refuse("page[number]", "page[number] must be at least 1")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise refuse("page[size]", f"page[size] must be between 1 and {MAX_PAGE_SIZE}")
    return number, size


def page_of(rows: list[T], number: int, size: int) -> list[T]:
    return rows[(number - 1) * size : number * size]


def stats(request: Request) -> bool:
    value = request.arg("stats[total]")
    if value not in (None, "count"):
        raise refuse("stats[total]", "stats[total] supports only count")
    return value == "count"


def includes(request: Request, allowed: frozenset[str]) -> set[str]:
    paths = set(csv(request.arg("include")))
    unknown = sorted(paths - allowed)
    if unknown:
        raise refuse("include", f"Unknown include path: {', '.join(unknown)}")
    return paths


def unknown_filters(request: Request, known: frozenset[str]) -> None:
    unknown = sorted(k for k in request.query if k.startswith("filter[") and k not in known)
    if unknown:
        errors = [error_object(400, f"Unknown filter: {name}", name) for name in unknown]
        raise Reject(jsonapi_errors(400, errors))


def visibility(request: Request, name: str, default: frozenset[str]) -> frozenset[str]:
    values = frozenset(csv(request.arg(name))) or default
    if values - set(VISIBILITIES):
        raise refuse(name, f"{name} has an unknown value")
    return values


def _time_bounds(request: Request, switches: Switches) -> dict[tuple[str, str], datetime]:
    bounds: dict[tuple[str, str], datetime] = {}
    for field in TIME_FIELDS:
        for op in DOCUMENTED_OPS + UNDOCUMENTED_OPS:
            name = f"filter[{field}][{op}]"
            value = request.arg(name)
            if value is None:
                continue
            if field == "updated_at" and not switches.updated_at_filter:
                raise refuse(name, f"Unknown filter: {name}")
            if op in UNDOCUMENTED_OPS:
                if switches.gte_filter == "ignore":
                    continue
                raise refuse(name, f"Unknown filter operator: {name}")
            bounds[(field, op)] = parse_time(name, value)
    return bounds


def _stage_ids(request: Request, switches: Switches) -> set[str]:
    raw = request.arg("filter[stage_id]")
    ids = csv(raw)
    if len(ids) > 1:  # documented as a single string; a list is [unknown]
        if switches.stage_id_list == "ignore":
            return set()
        raise refuse("filter[stage_id]", "filter[stage_id] takes a single stage id, not a list")
    return set(ids)


def _basic_types(request: Request, switches: Switches) -> set[str]:
    name = "filter[stage_basic_type]"
    raw = request.arg(name)
    if raw is None:
        return set()
    if not switches.stage_basic_type_filter:
        raise refuse(name, f"Unknown filter: {name}")
    kinds = set(csv(raw))
    if not kinds or kinds - set(STAGE_TYPES):
        raise refuse(name, f"{name} takes basic types among {', '.join(STAGE_TYPES)}")
    return kinds


def application_filter(request: Request, switches: Switches) -> KeepApplication:
    """GET /applications' filters, as a predicate over (application, its job, its stage)."""
    unknown_filters(request, APPLICATION_FILTERS)
    bounds = _time_bounds(request, switches)
    stage_ids = _stage_ids(request, switches)
    kinds = _basic_types(request, switches)
    job_ids = set(csv(request.arg("filter[job_id]")))
    seen = visibility(request, "filter[job_visibility]", DEFAULT_VISIBILITY)

    def within(app: Application) -> bool:
        for (field, op), bound in bounds.items():
            moment = app.updated_at if field == "updated_at" else app.created_at
            if (op == "gt" and not moment > bound) or (op == "lt" and not moment < bound):
                return False
        return True

    def keep(app: Application, job: Job, stage: Stage) -> bool:
        return (
            (not stage_ids or app.stage_id in stage_ids)
            and (not kinds or stage.basic_type in kinds)
            and (not job_ids or app.job_id in job_ids)
            and job.visibility in seen
            and within(app)
        )

    return keep


def sort_key(request: Request) -> str | None:
    value = request.arg("sort")
    if value is not None and value not in SORTS:
        raise refuse("sort", f"sort must be one of {', '.join(sorted(SORTS))}")
    return value


def wants_attachments(request: Request) -> bool:
    # Only the scoped form counts; a bare extra_fields=attachments is ignored, as upstream.
    return "attachments" in csv(request.arg("extra_fields[applications]"))
