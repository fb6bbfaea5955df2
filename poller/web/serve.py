"""Where `poller web` may listen, and running it under waitress until SIGTERM or Ctrl-C.

Safe by default: loopback only. Any other host is refused (a ConfigError, exit 2) unless
an access token is configured; with one, every request must carry it (see ``StatusApp``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from poller.errors import ConfigError
from poller.hosts import is_loopback_host

if TYPE_CHECKING:
    from poller.config import Settings
    from poller.store.ledger import Ledger

__all__ = ["THREADS", "check_bind", "listening_urls", "make_server", "serve"]

log = structlog.get_logger("poller.web")

THREADS = 4  # requests served at once (the ledger's pool has worker.concurrency + 2 >= 3)


def check_bind(host: str, *, has_token: bool) -> None:
    """Refuse a host other than loopback when no access token is set."""
    if not is_loopback_host(host) and not has_token:
        raise ConfigError(
            [
                f"web.host: refusing to serve the status page on {host!r} without an access "
                "token: it shows candidates' names and emails. Set POLLER_WEB_TOKEN (or "
                "POLLER_WEB_TOKEN_FILE) to require it as the HTTP Basic password, or listen "
                "on 127.0.0.1"
            ]
        )


def make_server(settings: Settings, ledger: Ledger) -> Any:
    """A bound (not yet running) waitress server for the status page. OSError if the
    address can't be had."""
    from waitress import create_server

    from poller.web.app import StatusApp

    check_bind(settings.web.host, has_token=settings.web_token is not None)
    token = settings.web_token.get_secret_value() if settings.web_token else None
    app = StatusApp(ledger, token=token, page_size=settings.web.page_size)
    return create_server(
        app,
        host=settings.web.host,
        port=settings.web.port,
        threads=THREADS,
        ident="",  # no Server header
        clear_untrusted_proxy_headers=True,
        expose_tracebacks=False,
    )


def listening_urls(server: Any) -> list[str]:
    listen = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)
    ]
    urls = []
    for host, port in listen:
        shown = f"[{host}]" if ":" in str(host) else str(host)
        urls.append(f"http://{shown}:{port}/")
    return urls


def serve(
    settings: Settings, ledger: Ledger, *, on_listening: Callable[[list[str]], None] | None = None
) -> None:
    """Serve until SIGTERM or SIGINT, then return (the caller exits 0)."""
    server = make_server(settings, ledger)
    urls = listening_urls(server)
    log.info("web.listening", urls=urls, token_required=settings.web_token is not None)
    if on_listening is not None:
        on_listening(urls)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)  # waitress's loop catches it and closes its sockets and threads

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        log.info("web.stopped")
