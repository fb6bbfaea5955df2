"""Setting up and looking around: check, preview, web, demo, sandbox."""

from __future__ import annotations

import sys

import click

from poller.cli.base import (
    config_exit,
    die,
    ledger_for,
    load,
    main,
    require_secrets,
)


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate config, reach both APIs, check the mapping against HiBob's lists."""
    from poller.cli.check import run_preflight

    settings = load(ctx)
    require_secrets(settings)
    sys.exit(run_preflight(settings))


@main.command()
@click.argument("application_id")
@click.pass_context
def preview(ctx: click.Context, application_id: str) -> None:
    """Fetch and map one application; print the payload that would be sent."""
    from poller.cli.preview import preview_one

    settings = load(ctx)
    require_secrets(settings)
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

    settings = load(ctx, overrides={"web": {"host": host, "port": port}})
    try:  # before the database is touched: a refused bind is a usage error
        check_bind(settings.web.host, has_token=settings.web_token is not None)
    except ConfigError as exc:
        config_exit(exc)
    ledger = ledger_for(settings, read_only=True)

    def listening(urls: list[str]) -> None:
        click.echo(f"status page: {' '.join(urls)} (read-only; Ctrl-C stops)")

    try:
        serve(settings, ledger, on_listening=listening)
    except OSError as exc:
        die(f"can't listen on {settings.web.host}:{settings.web.port}: {exc.strerror or exc}")
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


@main.command()
@click.option("--test", "send_test", is_flag=True, help="Send one test message to every target.")
@click.pass_context
def notify(ctx: click.Context, send_test: bool) -> None:
    """Notifications to the people who act (POLLER_NOTIFY_URLS: Apprise URLs).

    `--test` sends one test message to each target: exit 0 when all took it, 1 naming each
    that didn't (by scheme and host only: the URLs carry tokens), 2 when no target is set or
    a URL can't be read.
    """
    import socket

    from poller.cli.base import EXIT_USAGE
    from poller.upstream.notify import Sender, targets

    if not send_test:
        die("give --test (send one test message to every target)", EXIT_USAGE)
    settings = load(ctx)
    found = targets(settings.notify_targets())
    if not found:
        die(
            "no notification target: set POLLER_NOTIFY_URLS (or POLLER_NOTIFY_URLS_FILE) to "
            "Apprise URLs, separated by spaces or commas",
            EXIT_USAGE,
        )
    sender = Sender()
    unreadable = sender.malformed(found)
    if unreadable:
        die(
            "can't read these notification URLs (an unknown scheme, or a part missing): "
            + ", ".join(t.label for t in unreadable),
            EXIT_USAGE,
        )
    title = "Pinpoint to HiBob poller: a test message"
    body = (
        f"A test from the poller on {socket.gethostname()}. Failed hires, un-hires and "
        "changes after the hire will be told here."
    )
    failed = []
    for target in found:
        took = sender.send(target, title, body)
        click.echo(f"{target.label}: {'sent' if took else 'NOT sent'}")
        if not took:
            failed.append(target.label)
    if failed:
        die(f"not taken by {', '.join(failed)} (see the log above for why)")
