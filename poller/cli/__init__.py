"""The `poller` command: parse, build objects, call one function, map errors to exit codes.

Exit codes (design.md): 0 the cycle completed; 1 it could not (store or API outage, bad
credentials); 2 bad configuration or usage, with every problem listed. Heavy modules are
imported inside the commands so that `poller --help` and a CronJob's start stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from poller.models import State

if TYPE_CHECKING:
    from poller.config import Settings
    from poller.errors import ConfigError
    from poller.store.ledger import Ledger

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _die(message: str, code: int = EXIT_FAILED) -> NoReturn:
    from poller.redact import redact

    click.echo(f"poller: {redact(message)}", err=True)
    sys.exit(code)


def _config_exit(exc: ConfigError) -> NoReturn:
    """Every configuration problem at once, then exit 2."""
    click.echo("poller: configuration problems:", err=True)
    for problem in exc.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(EXIT_USAGE)


def _load(ctx: click.Context, overrides: dict[str, dict[str, object]] | None = None) -> Settings:
    from poller.config import load_settings
    from poller.errors import ConfigError
    from poller.logs import configure_logging
    from poller.redact import register_secret

    try:
        settings = load_settings(ctx.obj.get("config"), overrides=overrides)
    except ConfigError as exc:
        _config_exit(exc)
    for secret in settings.secret_values():
        register_secret(secret)
    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def _ledger(settings: Settings, *, migrate: bool = False, read_only: bool = False) -> Ledger:
    """The ledger at the current schema (migrated first when ``migrate``), or exit 1."""
    from poller.errors import StoreError
    from poller.loop.wiring import build_ledger

    ledger = build_ledger(settings, read_only=read_only)
    try:
        if migrate:
            ledger.migrate_if_needed()
        elif not ledger.schema_current():
            _die(
                "the database schema is not up to date: run `poller db upgrade` "
                f"({settings.database_url_for_display()})"
            )
    except StoreError as exc:
        _die(f"{exc} ({settings.database_url_for_display()})")
    return ledger


def _parse_date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _die(f"{option}: {value!r} is not a date (use YYYY-MM-DD or ISO-8601)", EXIT_USAGE)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="config.toml to read (default: $POLLER_CONFIG, else ./config.toml).",
)
@click.version_option(package_name="pinpoint-hibob-poller")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Create Pinpoint hires in HiBob, attach their CV and comment back, exactly once."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path


@main.command()
@click.option("--once", is_flag=True, help="Run one cycle, then exit (CronJob mode).")
@click.option("--backfill-since", metavar="DATE", help="Also process hires updated since DATE.")
@click.option("--dry-run", is_flag=True, help="With --once: print payloads, write nothing.")
@click.pass_context
def run(ctx: click.Context, once: bool, backfill_since: str | None, dry_run: bool) -> None:
    """Poll Pinpoint and sync hires: forever, or one cycle with --once."""
    if dry_run and not once:
        _die("--dry-run needs --once", EXIT_USAGE)
    since = _parse_date(backfill_since, "--backfill-since")
    settings = _load(ctx)
    _require_secrets(settings)
    if dry_run:
        from poller.cli.preview import dry_run as do_dry_run

        sys.exit(do_dry_run(settings, backfill_since=since))
    ledger = _ledger(settings, migrate=settings.database.auto_migrate)
    from poller.loop.scheduler import run_forever, run_once
    from poller.loop.wiring import build_services

    svc = build_services(settings, ledger)
    sys.exit(run_once(svc, backfill_since=since) if once else run_forever(svc))


def _require_secrets(settings: Settings) -> None:
    from poller.errors import ConfigError

    try:
        settings.require_secrets()
    except ConfigError as exc:
        _config_exit(exc)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the Alembic migrations."""
    settings = _load(ctx)
    _ledger(settings, migrate=True)
    click.echo(f"database is at the latest schema ({settings.database_url_for_display()})")


def _format_option(choices: list[str], default: str) -> Callable[[F], F]:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=True
    )


@main.command()
@_format_option(["text", "json"], "text")
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Counts by state, last successful poll, watermark, oldest pending."""
    from poller.report import status_report

    settings = _load(ctx)
    click.echo(status_report(_ledger(settings), fmt))


@main.command("list")
@click.option("--state", type=click.Choice([s.value for s in State]))
@click.option(
    "--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0 means all rows."
)
@_format_option(["table", "json", "csv"], "table")
@click.pass_context
def list_rows(ctx: click.Context, state: str | None, limit: int, fmt: str) -> None:
    """The processed-applications table, newest first."""
    from poller.report import render_rows

    settings = _load(ctx)
    rows = _ledger(settings).rows(state=state, limit=limit)
    render_rows(rows, fmt)


@main.command()
@click.argument("application_id")
@_format_option(["text", "json"], "text")
@click.pass_context
def show(ctx: click.Context, application_id: str, fmt: str) -> None:
    """One row in full, with its history of attempts and errors."""
    from poller.report import show_row

    settings = _load(ctx)
    ledger = _ledger(settings)
    rec = ledger.get(application_id)
    if rec is None:
        _die(f"no row for application {application_id}")
    click.echo(show_row(rec, ledger.events(application_id), fmt))


@main.command()
@click.argument("application_id", required=False)
@click.option("--all-failed", is_flag=True, help="Retry every failed row.")
@click.pass_context
def retry(ctx: click.Context, application_id: str | None, all_failed: bool) -> None:
    """Put failed rows back to pending; they resume from their last checkpoint."""
    if bool(application_id) == all_failed:
        _die("give one APPLICATION_ID or --all-failed", EXIT_USAGE)
    settings = _load(ctx)
    ledger = _ledger(settings)
    ids = ledger.retry(
        None if all_failed else [str(application_id)],
        now=datetime.now(UTC),
        note="poller retry",
    )
    if not ids and application_id:
        rec = ledger.get(application_id)
        state = rec.state if rec else "no such row"
        _die(f"application {application_id} is not failed ({state}); nothing to retry")
    click.echo(f"{len(ids)} row(s) back to pending: {', '.join(ids) if ids else '-'}")


@main.command()
@click.argument("application_id")
@click.option("--note", required=True, help="What was done by hand.")
@click.pass_context
def resolve(ctx: click.Context, application_id: str, note: str) -> None:
    """Mark a failed row done after a person fixed it by hand."""
    settings = _load(ctx)
    if not _ledger(settings).resolve(application_id, now=datetime.now(UTC), note=note):
        _die(f"application {application_id} is not failed or pending; nothing to resolve")
    click.echo(f"application {application_id} marked done")


@main.command()
@click.argument("application_id")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
@click.pass_context
def purge(ctx: click.Context, application_id: str, yes: bool) -> None:
    """Delete a row's personal data (name, email, errors, history)."""
    settings = _load(ctx)
    ledger = _ledger(settings)
    if ledger.get(application_id) is None:
        _die(f"no row for application {application_id}")
    if not yes and not click.confirm(
        f"Remove the personal data kept for application {application_id}?"
    ):
        _die("not purged", EXIT_FAILED)
    ledger.purge(application_id, now=datetime.now(UTC))
    click.echo(f"application {application_id}: personal data removed")


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate config, reach both APIs, check the mapping against HiBob's lists."""
    from poller.cli.check import run_preflight

    settings = _load(ctx)
    _require_secrets(settings)
    sys.exit(run_preflight(settings))


@main.command()
@click.argument("application_id")
@click.pass_context
def preview(ctx: click.Context, application_id: str) -> None:
    """Fetch and map one application; print the payload that would be sent."""
    from poller.cli.preview import preview_one

    settings = _load(ctx)
    _require_secrets(settings)
    sys.exit(preview_one(settings, application_id))


@main.command()
@click.option("--host", metavar="H", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), metavar="P", help="Port (default: web.port, 8080)."
)
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the read-only status page (GET and HEAD only) until Ctrl-C or SIGTERM.

    A host other than loopback needs POLLER_WEB_TOKEN (or POLLER_WEB_TOKEN_FILE); with a
    token, every request needs HTTP Basic auth with it as the password (any user name).
    """
    from poller.errors import ConfigError
    from poller.web.serve import check_bind, serve

    settings = _load(ctx, overrides={"web": {"host": host, "port": port}})
    try:  # before the database is touched: a refused bind is a usage error
        check_bind(settings.web.host, has_token=settings.web_token is not None)
    except ConfigError as exc:
        _config_exit(exc)
    ledger = _ledger(settings, read_only=True)

    def listening(urls: list[str]) -> None:
        click.echo(f"status page: {' '.join(urls)} (read-only; Ctrl-C stops)")

    try:
        serve(settings, ledger, on_listening=listening)
    except OSError as exc:
        _die(f"can't listen on {settings.web.host}:{settings.web.port}: {exc.strerror or exc}")
    finally:
        ledger.dispose()


@main.command()
@click.option("--hires", type=click.IntRange(1, 500), default=12, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def demo(hires: int, seed: int) -> None:
    """Start both simulators, seed hires, run cycles, print the table."""
    from poller.cli.demo import run_demo

    sys.exit(run_demo(hires=hires, seed=seed))


@main.command()
@click.option("--pinpoint-port", type=click.IntRange(0, 65535), default=8101, show_default=True)
@click.option("--hibob-port", type=click.IntRange(0, 65535), default=8102, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--hires", type=click.IntRange(0, 100000), default=12, show_default=True)
def sandbox(pinpoint_port: int, hibob_port: int, seed: int, hires: int) -> None:
    """Serve the Pinpoint and HiBob simulators until Ctrl-C."""
    from poller.sandbox import serve_forever

    serve_forever(pinpoint_port=pinpoint_port, hibob_port=hibob_port, seed=seed, hires=hires)


def entry() -> None:  # pragma: no cover - console script shim
    main(obj={})


if __name__ == "__main__":  # pragma: no cover
    main(obj={})
