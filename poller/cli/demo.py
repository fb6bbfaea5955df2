"""`poller demo`: the whole story against the built-in simulators, with no credentials."""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import click

from poller.config import load_settings
from poller.cycle import Cycle
from poller.logs import configure_logging
from poller.loop.wiring import build_ledger, build_services
from poller.models import EmployeeLink, State
from poller.report import render_rows
from poller.sandbox import Sandbox
from poller.store.ledger import Ledger

DEMO_CONFIG = """
[pinpoint]
base_url = "{pinpoint_url}"
requests_per_second = 1000

[hibob]
base_url = "{hibob_url}"
create_per_minute = 0                 # the simulator has no create limit unless asked
search_per_minute = 0
lookup_wait_seconds = 5
lookup_interval_seconds = 0.5

[database]
url = "sqlite:///{db}"

[discovery]
backfill_since = "1970-01-01T00:00:00Z"
settle_minutes = 10                   # a mis-click dragged back within 10 minutes creates nobody
full_reconcile_hours = 0.1            # a full listing (which finds un-hires) every 6 minutes

[mapping]
site_map = {{ "London, United Kingdom" = "London", "New York, United States" = "New York" }}
default_site = "London"
department_map = {{ "Product" = "Engineering" }}
extra_fields = {{ "work.custom.pinpointId" = "{{application_id}}" }}

[server]
port = 0

[logging]
level = "ERROR"
format = "text"
"""


def run_demo(*, hires: int, seed: int) -> int:
    configure_logging("ERROR", "text")
    with (
        tempfile.TemporaryDirectory(prefix="poller-demo-") as tmp,
        Sandbox(seed=seed, hires=hires) as sb,
    ):
        config = Path(tmp) / "config.toml"
        config.write_text(
            DEMO_CONFIG.format(
                pinpoint_url=sb.pinpoint_url, hibob_url=sb.hibob_url, db=Path(tmp) / "demo.db"
            )
        )
        settings = load_settings(
            str(config),
            env={"PINPOINT_API_KEY": sb.pinpoint_api_key, "HIBOB_BASE64_TOKEN": sb.hibob_token},
        )
        ledger = build_ledger(settings)
        ledger.migrate()
        svc = build_services(settings, ledger)
        click.echo(f"Pinpoint simulator: {sb.pinpoint_url}")
        click.echo(f"HiBob simulator:    {sb.hibob_url}")
        click.echo(f"Ledger:             {Path(tmp) / 'demo.db'} (temporary)\n")

        # The poller keeps the simulators' time, which the demo moves forward: the settle
        # window passes without waiting.
        svc.clock = sb.clock.now
        misclick = sb.pinpoint.add_hire("Mia", "Clicksworth", "mia.clicksworth@example.com")
        cycle = Cycle(svc)
        first = cycle.run()
        writes_before = sb.audit().write_requests()
        # Minutes later: the recruiter drags the mis-click back, and one processed hire's
        # offer is withdrawn. The next cycle, past the window, is also a full listing.
        sb.pinpoint.move_application(misclick, "Interview")
        unhired = next(
            r.application_id
            for r in ledger.rows(limit=0)
            if r.state == State.DONE and r.employee_link == EmployeeLink.CREATED
        )
        sb.pinpoint.move_application(unhired, "Rejected")
        # After the hire: one offer's start date moves two weeks, one candidate's email changes.
        moved, emailed, had = _after_the_hire(sb, ledger, skip=unhired)
        sb.clock.advance(11 * 60)
        second = cycle.run()
        audit = sb.audit()
        rerun_writes = audit.write_requests() - writes_before
        start_writes = sum(audit.start_date_writes_per_employee().values())
        if not (first.ok and second.ok):
            click.echo(f"poller demo: a cycle failed: {first.error or second.error}", err=True)
            return 1

        render_rows(ledger.rows(limit=0), "table", out=sys.stdout, pretty=True)
        counts = ledger.counts()
        created = sum(audit.employees_created_per_email().values())
        linked = sum(
            1 for r in ledger.rows(limit=0) if r.employee_link == EmployeeLink.LINKED_EXISTING
        )
        docs = sum(audit.documents_per_employee().values())
        comments = sum(audit.comments_per_application().values())
        click.echo(
            f"\nFound {first.discovery.listed if first.discovery else 0} hires in Pinpoint "
            f"(confidential jobs included): {created} employees created in HiBob, {linked} "
            f"linked to an existing employee, {docs} CVs attached, {comments} comments posted; "
            f"{counts['failed']} failed with a reason (see `poller show ID`)."
        )
        withdrawn = ledger.get(misclick)
        click.echo(
            f"A mis-click: application {misclick} was dragged to Hired and back within the "
            f"10-minute settle window. It is {withdrawn.state if withdrawn else '?'}: nobody "
            "was created in HiBob and no comment was posted."
        )
        flagged = ledger.get(unhired)
        click.echo(
            f"An un-hire: application {unhired} was moved to "
            f"{flagged.unhired_stage if flagged else '?'} after its employee was created. The "
            "full listing flagged it (`poller list --state unhired`); the HiBob employee is left "
            f"for HR to decide, and `poller ack {unhired}` clears the flag."
        )
        for change in ledger.changes_of(moved):
            click.echo(
                f"A moved start date: application {moved}'s offer now starts on "
                f"{change.new_value} (HiBob had {had}). The second cycle saw it and wrote it to "
                f"HiBob: {change.action} (`poller show {moved}`)."
            )
        for change in ledger.changes_of(emailed):
            click.echo(
                f"A changed email: application {emailed} now has {change.new_value} in "
                f"Pinpoint. It is {change.action}, not written: a new HiBob email sends the "
                "employee an invitation, so a person decides (`poller list --state changed`, "
                f"then `poller ack {emailed}`)."
            )
        click.echo(
            f"The second cycle made {rerun_writes} write request(s), {start_writes} of them the "
            "moved start date: every hire is recorded in the ledger and is processed exactly "
            "once, and every change once."
        )
        ledger.dispose()
    return 0


def _after_the_hire(sb: Sandbox, ledger: Ledger, *, skip: str) -> tuple[str, str, str]:
    """Two processed hires other than ``skip``: the first whose employee hasn't started gets
    an accepted offer two weeks later, the other a new email. Returns their ids, and the
    start date HiBob has for the first."""
    today = sb.clock.now().date()
    done = [
        r
        for r in ledger.rows(limit=0)
        if r.state == State.DONE
        and r.application_id != skip
        and r.employee_link == EmployeeLink.CREATED
    ]
    moved, start = next((r, r.start_date) for r in done if r.start_date and r.start_date > today)
    later = (start + timedelta(days=14)).isoformat()
    sb.pinpoint.add_offer(moved.application_id, later, "accepted")
    emailed = next(r for r in done if r.application_id != moved.application_id)
    sb.pinpoint.edit_candidate(
        emailed.application_id, email=f"new.{emailed.application_id}@example.com"
    )
    return moved.application_id, emailed.application_id, start.isoformat()
