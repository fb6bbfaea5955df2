"""`poller check`: catch credential, scope, stage and mapping mistakes before a real run.

One line per finding; exit 0 when there is no problem, 1 otherwise. Every check runs, so
that one bad answer doesn't hide the next problem. Nothing is written: HiBob's people search
is a POST, but a read. Pinpoint keys are scoped per resource, so each scope the product
reads with is proved by a read of its own, and a 403 names the scope it lacks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import click

from poller.config import Settings
from poller.errors import AuthError, PollerError
from poller.loop.wiring import build_hibob, build_pinpoint
from poller.mapping import clean, closest, find_in_list, lookup
from poller.models import HIRED, Job
from poller.upstream.pinpoint import PinpointClient

PINPOINT_AUTH = {
    401: "Pinpoint rejected PINPOINT_API_KEY (401): the key is missing, wrong or revoked; "
    "create one under Settings > API in Pinpoint",
    403: "Pinpoint answered 403 (integration not enabled): enable API access for the "
    "company that owns PINPOINT_API_KEY",
}
SCOPE_MISSING = (
    "Pinpoint refused {what} (403): the API key lacks {scope}; in Pinpoint, Settings > API "
    "Keys, give this key {scope}"
)
PINPOINT_UNCHECKED = (
    "Pinpoint: Applications: write (to comment on each hire) can't be checked without "
    "writing: make sure the key has it"
)
HIBOB_AUTH = {
    401: "HiBob rejected HIBOB_BASE64_TOKEN (401): it must be base64('<service user id>:<token>') "
    "of an active service user",
}
# The permission each read needs, as the README's HiBob permission list names it.
HIBOB_PERMISSIONS = {
    "lists": "HiBob refused to read the company list {name!r} (403): the service user's "
    "permission group lacks View on the work category (the site, department and title fields)",
    "search": "HiBob refused to search people (403): the service user's permission group lacks "
    "View on the root, about, employment and work categories for people whose lifecycle "
    "status is Hired, Employed or Terminated",
}
HIBOB_UNCHECKED = (
    "HiBob: 'Add new people to the company' (People's data > People > Employees) and upload "
    "to / view the {folder!r} docs folder can't be checked without writing: make sure the "
    "service user's permission group has them"
)


T = TypeVar("T")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # worth fixing; hires still go through
    notes: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)  # what can't be checked without writing

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def ok(self, text: str) -> None:
        self.notes.append(text)

    def remind(self, text: str) -> None:
        self.reminders.append(text)


def _auth_message(exc: AuthError, table: dict[int, str], fallback: str) -> str:
    return table.get(exc.status or 0, fallback)


class _KeyRejected(Exception):
    """Pinpoint refused the key itself (401), or the integration (403 on the first read)."""


def _probe(report: Report, what: str, scope: str, read: Callable[[], T]) -> T | None:
    """One read that proves one scope: its result, or None (and a problem line)."""
    try:
        return read()
    except AuthError as exc:
        if exc.status != 403:
            raise _KeyRejected(_auth_message(exc, PINPOINT_AUTH, str(exc))) from None
        report.problem(SCOPE_MISSING.format(what=what, scope=scope))
    except PollerError as exc:
        report.problem(f"Pinpoint {what} failed: {exc}")
    return None


def check_pinpoint(settings: Settings, report: Report) -> list[Job] | None:
    """Prove each scope the product reads with; the jobs, for the stage and title checks."""
    client = build_pinpoint(settings)
    jobs: list[Job] = []
    try:
        try:
            jobs = client.list_jobs(stages=False)
        except AuthError as exc:  # the first call: a 403 here is most likely the whole key
            raise _KeyRejected(
                _auth_message(exc, PINPOINT_AUTH, f"Pinpoint refused the key: {exc}")
            ) from None
        except PollerError as exc:
            report.problem(f"Pinpoint could not be reached: {exc}")
            return None
        with_stages = _probe(report, "the jobs' stages", "Stages: read", client.list_jobs)
        _probe_applications(client, report)
    except _KeyRejected as rejected:
        report.problem(str(rejected))
        return None
    report.remind(PINPOINT_UNCHECKED)
    check_hired_stages(settings, with_stages or [], report)
    return with_stages or jobs


def _probe_applications(client: PinpointClient, report: Report) -> None:
    sample: list[str] = []

    def applications() -> bool:
        sample.extend(client.sample_application_ids())
        return True

    if not _probe(report, "to list applications", "Applications: read", applications):
        return
    reads = [
        ("to include offers", "Offers: read", "offers"),
        ("to include job locations", "Locations: read", "job.location"),
        ("to include job departments", "Departments: read", "job.department"),
    ]
    for what, scope, include in reads:
        _probe(report, what, scope, functools.partial(client.sample_application_ids, include))
    if sample:
        comments = functools.partial(client.list_comments, sample[0])
        _probe(report, "to list comments", "Comments: read", comments)
    else:
        report.remind("Pinpoint: Comments: read not checked (there is no application to read)")


def check_hired_stages(settings: Settings, jobs: Sequence[Job], report: Report) -> None:
    """With configured stage names or ids, the same matching as
    PinpointClient.resolve_hired_stages, with every finding named. Without, the jobs whose
    workflow has no stage of basic type hired."""
    cfg = settings.pinpoint
    if not (cfg.hired_stage_names or cfg.hired_stage_ids):
        typed = [j for j in jobs if any(s.basic_type for s in j.stages)]
        for job in typed:
            if not any(s.basic_type == HIRED for s in job.stages):
                report.warn(f"Pinpoint job {job.id} ({job.title}) has no stage of type hired")
        report.ok(f"Pinpoint: key accepted; {len(jobs)} job(s); hires found by stage type")
        return
    wanted = {n.strip().casefold() for n in cfg.hired_stage_names if n.strip()}
    explicit = set(cfg.hired_stage_ids)
    found: set[str] = set()
    for job in jobs:
        hits = {s.id for s in job.stages if s.name.strip().casefold() in wanted or s.id in explicit}
        found |= hits
        if not hits and job.stages:  # a listing without stages says nothing about this job
            names = ", ".join(s.name for s in job.stages)
            report.problem(
                f"Pinpoint job {job.id} ({job.title}) has no hired stage among its stages "
                f"({names}): add its hired stage's name to pinpoint.hired_stage_names"
            )
    known = {s.id for job in jobs for s in job.stages}
    if known:
        for stage_id in sorted(explicit - known):
            report.problem(
                f"pinpoint.hired_stage_ids: {stage_id!r} is not a stage of any Pinpoint job"
            )
    found |= explicit
    report.ok(f"Pinpoint: key accepted; {len(jobs)} job(s), {len(found)} hired stage(s)")
    if not found:
        report.problem(
            f"Pinpoint: no job has a stage named {list(cfg.hired_stage_names)} and no "
            "pinpoint.hired_stage_ids are set: no hire would ever be found"
        )


def check_hibob(settings: Settings, report: Report, jobs: Sequence[Job] | None) -> None:
    client = build_hibob(settings)
    lists: dict[str, list[str]] = {}
    readable = True
    for name in ("site", "department", "title"):
        try:
            lists[name] = client.named_list(name)
        except AuthError as exc:
            if exc.status != 403:
                report.problem(_auth_message(exc, HIBOB_AUTH, f"HiBob refused the token: {exc}"))
                return  # a rejected token fails every call alike
            report.problem(HIBOB_PERMISSIONS["lists"].format(name=name))
            readable = False  # the other lists need the same permission: one line is enough
            break
        except PollerError as exc:
            report.problem(f"HiBob list {name!r} could not be read: {exc}")
            readable = False
            break
    try:
        client.find_by_email("poller-preflight@example.invalid")
    except AuthError as exc:
        report.problem(_auth_message(exc, HIBOB_AUTH, HIBOB_PERMISSIONS["search"]))
    except PollerError as exc:
        report.problem(f"HiBob people search failed: {exc}")
    else:
        report.ok("HiBob: token accepted; people search allowed")
    report.remind(HIBOB_UNCHECKED.format(folder=settings.hibob.document_folder))
    if readable:
        report.ok(
            f"HiBob: {len(lists['site'])} sites, {len(lists['department'])} departments, "
            f"{len(lists['title'])} titles"
        )
        check_mapping_values(settings, lists, report.problem)
        if jobs:
            check_job_titles(settings, jobs, lists["title"], report)


def _missing(value: str, items: Sequence[str], label: str) -> str | None:
    """Why ``value`` is not in a HiBob list (compared as HiBob does: ignoring case)."""
    if find_in_list(value, items) is not None:
        return None
    near = closest(value, items)
    hint = f"; closest: {', '.join(near)}" if near else ""
    return f"is not a HiBob {label}{hint}"


def check_mapping_values(
    settings: Settings, lists: dict[str, list[str]], problem: Callable[[str], None]
) -> None:
    m = settings.mapping
    wanted: list[tuple[str, str, str]] = [
        ("site", f"mapping.site_map[{src!r}]", dst) for src, dst in m.site_map.items()
    ]
    if m.default_site:
        wanted.append(("site", "mapping.default_site", m.default_site))
    wanted += [
        ("department", f"mapping.department_map[{src!r}]", dst)
        for src, dst in m.department_map.items()
    ]
    wanted += [("title", f"mapping.title_map[{src!r}]", dst) for src, dst in m.title_map.items()]
    for list_name, key, value in wanted:
        why = _missing(value, lists[list_name], list_name)
        if why:
            problem(f"{key} = {value!r} {why}")


def check_job_titles(
    settings: Settings, jobs: Sequence[Job], titles: Sequence[str], report: Report
) -> None:
    """Every Pinpoint job title (through mapping.title_map) that HiBob's title list lacks:
    a problem when such a hire would fail, a warning when it goes ahead without a title."""
    m = settings.mapping
    mapped = set(m.title_map.values())
    seen: set[str] = set()
    for job in jobs:
        title = clean(job.title)
        value = lookup(m.title_map, title) or title
        if not title or value in seen or value in mapped:  # mapped ones: checked above
            continue
        seen.add(value)
        why = _missing(value, titles, "title")
        if why is None:
            continue
        if m.on_unknown_title == "fail":
            report.problem(
                f"Pinpoint job title {value!r} {why}: hires at job {job.id} would fail; "
                "map it in mapping.title_map"
            )
        else:
            report.warn(
                f"Pinpoint job title {value!r} {why}: hires at job {job.id} are created "
                "without a title; map it in mapping.title_map"
            )


def run_preflight(settings: Settings) -> int:
    report = Report()
    report.ok(f"config: valid ({settings.config_path or 'defaults'})")
    jobs = check_pinpoint(settings, report)
    check_hibob(settings, report, jobs)
    for line in report.notes:
        click.echo(f"ok       {line}")
    for line in report.reminders:
        click.echo(f"note     {line}")
    for line in report.warnings:
        click.echo(f"warning  {line}")
    for line in report.problems:
        click.echo(f"problem  {line}")
    click.echo("all checks passed" if not report.problems else f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0
