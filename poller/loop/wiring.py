"""Build the clients and the ledger from settings. The only place that knows both."""

from __future__ import annotations

from poller.config import Settings
from poller.errors import ConfigError
from poller.services import Services
from poller.store.ledger import Ledger
from poller.upstream import hibob
from poller.upstream.cv_download import CVDownloader
from poller.upstream.hibob import HibobClient
from poller.upstream.hibob_lists import HibobLists
from poller.upstream.http import HttpClient
from poller.upstream.pacing import Pacer
from poller.upstream.pinpoint import PinpointClient
from poller.upstream.transport import make_session


def per_minute(limit: float) -> Pacer | None:
    return Pacer(limit / 60.0) if limit > 0 else None


def build_ledger(settings: Settings, *, read_only: bool = False) -> Ledger:
    """``read_only``: the status page's, whose connections refuse writes."""
    return Ledger(
        settings.database.url, pool_size=settings.worker.concurrency + 2, read_only=read_only
    )


def build_http(
    settings: Settings, api: str, base_url: str, headers: dict[str, str], pacers: dict[str, Pacer]
) -> HttpClient:
    h = settings.http
    return HttpClient(
        api,
        base_url,
        headers=headers,
        session=make_session(ca_bundle=str(h.ca_bundle) if h.ca_bundle else None),
        connect_timeout=h.connect_timeout_seconds,
        read_timeout=h.read_timeout_seconds,
        max_retries=h.max_retries,
        backoff_base=h.backoff_base_seconds,
        backoff_max=h.backoff_max_seconds,
        pacers=pacers,
        max_response_bytes=h.max_response_bytes,
    )


def build_pinpoint(settings: Settings) -> PinpointClient:
    key = settings.pinpoint_api_key
    if key is None:
        raise ConfigError(["PINPOINT_API_KEY: not set (set it, or PINPOINT_API_KEY_FILE)"])
    pacers: dict[str, Pacer] = {}
    if settings.pinpoint.requests_per_second > 0:
        pacers["*"] = Pacer(settings.pinpoint.requests_per_second)
    http = build_http(
        settings,
        "pinpoint",
        settings.pinpoint.base_url,
        PinpointClient.headers(key.get_secret_value()),
        pacers,
    )
    return PinpointClient(http, page_size=settings.pinpoint.page_size)


def build_hibob(settings: Settings) -> HibobClient:
    token = settings.hibob_base64_token
    if token is None:
        raise ConfigError(["HIBOB_BASE64_TOKEN: not set (set it, or HIBOB_BASE64_TOKEN_FILE)"])
    cfg = settings.hibob
    # Keyed by the same endpoint names the client paces by (templates, not URLs).
    limits = {
        hibob.ENDPOINT_CREATE: per_minute(cfg.create_per_minute),
        hibob.ENDPOINT_SEARCH: per_minute(cfg.search_per_minute),
        **{endpoint: per_minute(cfg.documents_per_minute) for endpoint in hibob.DOCUMENT_ENDPOINTS},
        **{endpoint: per_minute(cfg.update_per_minute) for endpoint in hibob.UPDATE_ENDPOINTS},
    }
    pacers = {k: v for k, v in limits.items() if v is not None}
    http = build_http(
        settings, "hibob", cfg.base_url, HibobClient.headers(token.get_secret_value()), pacers
    )
    return HibobClient(http, folder=cfg.document_folder)


def build_services(settings: Settings, ledger: Ledger | None = None) -> Services:
    settings.require_secrets()
    # CV links are Pinpoint's own signed URLs: counted as Pinpoint traffic in the metrics.
    download = build_http(settings, "pinpoint", "", {}, {})
    hibob = build_hibob(settings)
    notify = frozenset(settings.notify.events) if settings.notify_targets() else frozenset()
    return Services(
        settings=settings,
        notify=notify,
        ledger=ledger or build_ledger(settings),
        pinpoint=build_pinpoint(settings),
        hibob=hibob,
        cv_downloader=CVDownloader(download),
        lists=HibobLists(hibob, ttl_seconds=settings.hibob.list_cache_seconds),
    )
