"""`poller check`: catch credential, permission, stage and mapping mistakes before a real run.

One line per finding; exit 0 when there is no problem, 1 otherwise. Each call is made once
and every check runs, so that one bad answer doesn't hide the next problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import click

from poller.config import Settings
from poller.errors import AuthError, PollerError
from poller.mapping import closest
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
HIBOB_PERMISSIONS = {
    "lists": "the service user can't read company lists (403): give its permission group "
    "access to the site and department fields",
    "search": "the service user can't search people (403): give it View on the root, about, "
    "employment and work categories for lifecycle statuses Hired, Employed and Terminated",
}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def ok(self, text: str) -> None:
        self.notes.append(text)


def _auth_message(exc: AuthError, table: dict[int, str], fallback: str) -> str:
    return table.get(exc.status or 0, fallback)


def check_pinpoint(settings: Settings, report: Report) -> None:
    client = build_pinpoint(settings)
    cfg = settings.pinpoint
    try:
        stages = client.resolve_hired_stages(cfg.hired_stage_names, cfg.hired_stage_ids)
    except AuthError as exc:
        report.problem(_auth_message(exc, PINPOINT_AUTH, f"Pinpoint refused the key: {exc}"))
        return
    except PollerError as exc:
        report.problem(f"Pinpoint could not be reached: {exc}")
        return
    report.ok(f"Pinpoint: key accepted; {len(stages.stage_ids)} hired stage(s) found")
    if not stages.stage_ids:
        report.problem(
            f"Pinpoint: no job has a stage named {list(cfg.hired_stage_names)} and no "
            "pinpoint.hired_stage_ids are set: no hire would ever be found"
        )
    for job in stages.jobs_without_hired_stage:
        names = ", ".join(s.name for s in job.stages) or "no stages"
        report.problem(
            f"Pinpoint job {job.id} ({job.title}) has no hired stage among its stages "
            f"({names}): add its hired stage's name to pinpoint.hired_stage_names"
        )


def check_hibob(settings: Settings, report: Report) -> None:
    client = build_hibob(settings)
    lists: dict[str, list[str]] = {}
    for name in ("site", "department"):
        try:
            lists[name] = client.named_list(name)
        except AuthError as exc:
            fallback = HIBOB_PERMISSIONS["lists"] if exc.status == 403 else str(exc)
            report.problem(_auth_message(exc, HIBOB_AUTH, fallback))
            return
        except PollerError as exc:
            report.problem(f"HiBob list {name!r} could not be read: {exc}")
            return
    try:
        client.find_by_email("poller-preflight@example.invalid")
    except AuthError as exc:
        report.problem(_auth_message(exc, HIBOB_AUTH, HIBOB_PERMISSIONS["search"]))
        return
    except PollerError as exc:
        report.problem(f"HiBob people search failed: {exc}")
        return
    report.ok(
        f"HiBob: token accepted; {len(lists['site'])} sites, "
        f"{len(lists['department'])} departments; people search allowed"
    )
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
    for line in report.problems:
        click.echo(f"problem  {line}")
    click.echo("all checks passed" if not report.problems else f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0
