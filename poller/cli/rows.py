"""Reading and acting on rows: status, list, show, retry, resolve, purge, ack."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from poller.cli.base import (
    EXIT_FAILED,
    EXIT_USAGE,
    die,
    format_option,
    ledger_for,
    load,
    main,
)
from poller.models import CHANGED, UNHIRED, State


@main.command()
@format_option(["text", "json"], "text")
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Counts by state, last successful poll, watermark, oldest pending."""
    from poller.report import status_report

    settings = load(ctx)
    click.echo(status_report(ledger_for(settings), fmt))


@main.command("list")
@click.option(
    "--state",
    type=click.Choice([*(s.value for s in State), UNHIRED, CHANGED]),
    help="Rows in this state; 'unhired': rows whose un-hire flag is up; 'changed': rows "
    "with an open change after the hire.",
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0 means all rows."
)
@format_option(["table", "json", "csv"], "table")
@click.pass_context
def list_rows(ctx: click.Context, state: str | None, limit: int, fmt: str) -> None:
    """The processed-applications table, newest first."""
    from poller.report import render_rows

    settings = load(ctx)
    rows = ledger_for(settings).rows(state=state, limit=limit)
    render_rows(rows, fmt)


@main.command()
@click.argument("application_id")
@format_option(["text", "json"], "text")
@click.pass_context
def show(ctx: click.Context, application_id: str, fmt: str) -> None:
    """One row in full, with its history of attempts and errors."""
    from poller.report import show_row

    settings = load(ctx)
    ledger = ledger_for(settings)
    rec = ledger.get(application_id)
    if rec is None:
        die(f"no row for application {application_id}")
    events, changes = ledger.events(application_id), ledger.changes_of(application_id)
    click.echo(show_row(rec, events, fmt, changes))


@main.command()
@click.argument("application_id", required=False)
@click.option("--all-failed", is_flag=True, help="Retry every failed row.")
@click.pass_context
def retry(ctx: click.Context, application_id: str | None, all_failed: bool) -> None:
    """Put failed rows back to pending; they resume from their last checkpoint."""
    if bool(application_id) == all_failed:
        die("give one APPLICATION_ID or --all-failed", EXIT_USAGE)
    settings = load(ctx)
    ledger = ledger_for(settings)
    ids = ledger.retry(
        None if all_failed else [str(application_id)],
        now=datetime.now(UTC),
        note="poller retry",
    )
    if not ids and application_id:
        rec = ledger.get(application_id)
        state = rec.state if rec else "no such row"
        die(f"application {application_id} is not failed ({state}); nothing to retry")
    click.echo(f"{len(ids)} row(s) back to pending: {', '.join(ids) if ids else '-'}")


@main.command()
@click.argument("application_id")
@click.option("--note", required=True, help="What was done by hand.")
@click.pass_context
def resolve(ctx: click.Context, application_id: str, note: str) -> None:
    """Mark a failed row done after a person fixed it by hand."""
    settings = load(ctx)
    if not ledger_for(settings).resolve(application_id, now=datetime.now(UTC), note=note):
        die(f"application {application_id} is not failed or pending; nothing to resolve")
    click.echo(f"application {application_id} marked done")


@main.command()
@click.argument("application_id")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
@click.pass_context
def purge(ctx: click.Context, application_id: str, yes: bool) -> None:
    """Delete a row's personal data (name, email, errors, history)."""
    settings = load(ctx)
    ledger = ledger_for(settings)
    if ledger.get(application_id) is None:
        die(f"no row for application {application_id}")
    if not yes and not click.confirm(
        f"Remove the personal data kept for application {application_id}?"
    ):
        die("not purged", EXIT_FAILED)
    ledger.purge(application_id, now=datetime.now(UTC))
    click.echo(f"application {application_id}: personal data removed")


@main.command()
@click.argument("application_id")
@click.option("--note", help="What was decided (kept in the row's history).")
@click.pass_context
def ack(ctx: click.Context, application_id: str, note: str | None) -> None:
    """Clear a row's un-hire flag and close its open changes once a person has looked at them
    (HiBob is not changed)."""
    settings = load(ctx)
    flag, changes = ledger_for(settings).ack(application_id, now=datetime.now(UTC), note=note)
    if not flag and not changes:
        die(
            f"application {application_id} has no un-hire flag and no open change; "
            "nothing to acknowledge"
        )
    done = [text for text, did in (("un-hire flag cleared", flag),) if did]
    if changes:
        done.append(f"{changes} open change(s) closed")
    click.echo(f"application {application_id}: {', '.join(done)}")
