"""`poller run` and `poller db upgrade`: the cycles, and the schema they need."""

from __future__ import annotations

import sys

import click

from poller.cli.base import (
    EXIT_USAGE,
    die,
    ledger_for,
    load,
    main,
    parse_date,
    require_secrets,
)


@main.command()
@click.option("--once", is_flag=True, help="Run one cycle, then exit (CronJob mode).")
@click.option("--backfill-since", metavar="DATE", help="Also process hires updated since DATE.")
@click.option("--dry-run", is_flag=True, help="With --once: print payloads, write nothing.")
@click.pass_context
def run(ctx: click.Context, once: bool, backfill_since: str | None, dry_run: bool) -> None:
    """Poll Pinpoint and sync hires: forever, or one cycle with --once."""
    if dry_run and not once:
        die("--dry-run needs --once", EXIT_USAGE)
    since = parse_date(backfill_since, "--backfill-since")
    settings = load(ctx)
    require_secrets(settings)
    if dry_run:
        from poller.cli.preview import dry_run as do_dry_run

        sys.exit(do_dry_run(settings, backfill_since=since))
    ledger = ledger_for(settings, migrate=settings.database.auto_migrate)
    from poller.loop.scheduler import run_forever, run_once
    from poller.loop.wiring import build_services

    svc = build_services(settings, ledger)
    sys.exit(run_once(svc, backfill_since=since) if once else run_forever(svc))


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the Alembic migrations."""
    settings = load(ctx)
    ledger_for(settings, migrate=True)
    click.echo(f"database is at the latest schema ({settings.database_url_for_display()})")
