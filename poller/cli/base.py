"""The `poller` group and what every command shares: loading the config, opening the ledger,
and leaving with the right exit code.

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

if TYPE_CHECKING:
    from poller.config import Settings
    from poller.errors import ConfigError
    from poller.store.ledger import Ledger

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def die(message: str, code: int = EXIT_FAILED) -> NoReturn:
    from poller.redact import redact

    click.echo(f"poller: {redact(message)}", err=True)
    sys.exit(code)


def config_exit(exc: ConfigError) -> NoReturn:
    """Every configuration problem at once, then exit 2."""
    click.echo("poller: configuration problems:", err=True)
    for problem in exc.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(EXIT_USAGE)


def load(ctx: click.Context, overrides: dict[str, dict[str, object]] | None = None) -> Settings:
    from poller.config import load_settings
    from poller.errors import ConfigError
    from poller.logs import configure_logging
    from poller.redact import register_secret

    try:
        settings = load_settings(ctx.obj.get("config"), overrides=overrides)
    except ConfigError as exc:
        config_exit(exc)
    for secret in settings.secret_values():
        register_secret(secret)
    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def ledger_for(settings: Settings, *, migrate: bool = False, read_only: bool = False) -> Ledger:
    """The ledger at the current schema (migrated first when ``migrate``), or exit 1."""
    from poller.errors import StoreError
    from poller.loop.wiring import build_ledger

    ledger = build_ledger(settings, read_only=read_only)
    try:
        if migrate:
            ledger.migrate_if_needed()
        elif not ledger.schema_current():
            die(
                "the database schema is not up to date: run `poller db upgrade` "
                f"({settings.database_url_for_display()})"
            )
    except StoreError as exc:
        die(f"{exc} ({settings.database_url_for_display()})")
    return ledger


def parse_date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        die(f"{option}: {value!r} is not a date (use YYYY-MM-DD or ISO-8601)", EXIT_USAGE)
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


def require_secrets(settings: Settings) -> None:
    from poller.errors import ConfigError

    try:
        settings.require_secrets()
    except ConfigError as exc:
        config_exit(exc)


def format_option(choices: list[str], default: str) -> Callable[[F], F]:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=True
    )
