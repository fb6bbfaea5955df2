"""`poller check`: catch credential, permission, stage and mapping mistakes before a real run.

One line per finding; exit 0 when there is no problem, 1 otherwise. Each call is made once
and every check runs, so that one bad answer doesn't hide the next problem. Nothing is
written: HiBob's people search is a POST, but a read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import click

from poller.config import Settings
from poller.errors import AuthError, PollerError
from poller.mapping import closest
from poller.models import Job
from poller.wiring import build_hibob, build_pinpoint

PINPOINT_AUTH = {
    401: "Pinpoint rejected PINPOINT_API_KEY (401): the key is missing, wrong or revoked; "
    "create one under Settings > API in Pinpoint",
    403: "Pinpoint answered 403 (integration not enabled): enable API access for the "
    "company that owns PINPOINT_API_KEY",
}
HIBOB_AUTH = {
    401: "HiBob rejected HIBOB_BASE64_TOKEN (401): it must be base64('<service user id>:<token>') "
    "of an active service user",
}
# The permission each read needs, as the README's HiBob permission list names it.
HIBOB_PERMISSIONS = {
    "lists": "HiBob refused to read the company list {name!r} (403): the service user's "
    "permission group lacks View on the work category (the site and department fields)",
    "search": "HiBob refused to search people (403): the service user's permission group lacks "
    "View on the root, about, employment and work categories for people whose lifecycle "
    "status is Hired, Employed or Terminated",
}
HIBOB_UNCHECKED = (
    "HiBob: 'Add new people to the company' (People's data > People > Employees) and upload "
    "to / view the {folder!r} docs folder can't be checked without writing: make sure the "
    "service user's permission group has them"
)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)  # what can't be checked without writing

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def ok(self, text: str) -> None:
        self.notes.append(text)

    def remind(self, text: str) -> None:
        self.reminders.append(text)


def _auth_message(exc: AuthError, table: dict[int, str], fallback: str) -> str:
    return table.get(exc.status or 0, fallback)


def check_pinpoint(settings: Settings, report: Report) -> None:
    client = build_pinpoint(settings)
    try:
        # One listing serves the key check, the stage names and the configured stage ids.
        jobs = client.list_jobs()
    except AuthError as exc:
        report.problem(_auth_message(exc, PINPOINT_AUTH, f"Pinpoint refused the key: {exc}"))
        return
    except PollerError as exc:
        report.problem(f"Pinpoint could not be reached: {exc}")
        return
    check_hired_stages(settings, jobs, report)


def check_hired_stages(settings: Settings, jobs: Sequence[Job], report: Report) -> None:
    """The same matching as PinpointClient.resolve_hired_stages, with every finding named."""
    cfg = settings.pinpoint
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


def check_hibob(settings: Settings, report: Report) -> None:
    client = build_hibob(settings)
    lists: dict[str, list[str]] = {}
    readable = True
    for name in ("site", "department"):
        try:
            lists[name] = client.named_list(name)
        except AuthError as exc:
            if exc.status != 403:
                report.problem(_auth_message(exc, HIBOB_AUTH, f"HiBob refused the token: {exc}"))
                return  # a rejected token fails every call alike
            report.problem(HIBOB_PERMISSIONS["lists"].format(name=name))
            readable = False  # the other list needs the same permission: one line is enough
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
        report.ok(f"HiBob: {len(lists['site'])} sites, {len(lists['department'])} departments")
        check_mapping_values(settings, lists, report.problem)


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
    for list_name, key, value in wanted:
        if value not in lists[list_name]:
            near = closest(value, lists[list_name])
            hint = f"; closest: {', '.join(near)}" if near else ""
            problem(f"{key} = {value!r} is not a HiBob {list_name}{hint}")


def run_preflight(settings: Settings) -> int:
    report = Report()
    report.ok(f"config: valid ({settings.config_path or 'defaults'})")
    check_pinpoint(settings, report)
    check_hibob(settings, report)
    for line in report.notes:
        click.echo(f"ok       {line}")
    for line in report.reminders:
        click.echo(f"note     {line}")
    for line in report.problems:
        click.echo(f"problem  {line}")
    click.echo("all checks passed" if not report.problems else f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0
