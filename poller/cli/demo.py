"""`poller demo`: the whole story against the built-in simulators, with no credentials."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from poller.config import load_settings
from poller.cycle import Cycle
from poller.logs import configure_logging
from poller.loop.wiring import build_ledger, build_services
from poller.models import EmployeeLink
from poller.report import render_rows
from poller.sandbox import Sandbox

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

        cycle = Cycle(svc)
        first = cycle.run()
        writes_before = sb.audit().write_requests()
        second = cycle.run()
        audit = sb.audit()
        rerun_writes = audit.write_requests() - writes_before
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
        click.echo(
            f"The second cycle made {rerun_writes} write requests: every hire is recorded in "
            "the ledger and is processed exactly once."
        )
        ledger.dispose()
    return 0
