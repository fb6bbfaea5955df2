"""The status page as a WSGI application: routing, access checks, headers and the three pages.

Read-only by construction: only GET and HEAD are routed (anything else is 405 before any
other work), and the ledger it is given is opened read-only (``Ledger(read_only=True)``).
Every page is rendered by Jinja2 with autoescape on, and every interpolated string also goes
through ``poller.redact`` (secrets, signed URLs' query strings) before it is escaped.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from poller.errors import StoreError
from poller.hosts import is_loopback_host
from poller.models import CHANGED, UNHIRED
from poller.redact import redact
from poller.report import (
    TABLE_COLUMNS,
    change_rows,
    history_rows,
    row_fields,
    row_notes,
    status_data,
)
from poller.store.views import MAX_QUERY_LENGTH, hires_per_day, search

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from poller.store.ledger import Ledger

__all__ = ["SECURITY_HEADERS", "StatusApp"]

log = structlog.get_logger("poller.web")

READ_METHODS = ("GET", "HEAD")
# No script may run at all; styles and images only from this server; no framing; forms only
# back here. Together with autoescape, an injected tag has nothing it could do.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_STATE = re.compile(r"^[a-z_]{1,32}$")
_STATIC = {"style.css": "text/css", "favicon.svg": "image/svg+xml"}
CHART_DAYS = 30


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: redacted, then (by autoescape) escaped."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return redact(value)


class StatusApp:
    """The WSGI callable. ``token``: when set, every request needs HTTP Basic auth with it as
    the password; when not, only loopback Host headers are answered (no DNS rebinding)."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        token: str | None = None,
        page_size: int = 50,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ledger = ledger
        self._token = token.encode("utf-8") if token else None
        self.page_size = page_size
        self._clock = clock
        self.urls = Map(
            [
                Rule("/", endpoint="index", methods=["GET"]),
                Rule("/applications", endpoint="applications", methods=["GET"]),
                Rule("/applications/<path:app_id>", endpoint="application", methods=["GET"]),
                Rule("/static/<name>", endpoint="static", methods=["GET"]),
            ]
        )
        self.jinja = Environment(
            loader=PackageLoader("poller.web", "templates"),
            autoescape=True,
            finalize=_finalize,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._static = {
            name: (files("poller.web").joinpath("static", name).read_bytes(), mimetype)
            for name, mimetype in _STATIC.items()
        }

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        response = self._respond(request)
        response.headers.update(SECURITY_HEADERS)
        # One line per request: no query string (it holds searched names), no headers.
        log.info(
            "web.request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if request.method not in READ_METHODS:
            return self._error(MethodNotAllowed(valid_methods=list(READ_METHODS)))
        if self._token is None and not _loopback_host(request.host):
            return self._error(BadRequest("This page answers only to localhost."))
        if self._token is not None and not self._authorized(request):
            return self._unauthorized()
        try:
            endpoint, args = self.urls.bind_to_environ(request.environ).match()
            handler: Callable[..., Response] = getattr(self, f"page_{endpoint}")
            return handler(request, **args)
        except HTTPException as exc:
            return self._error(exc)
        except StoreError as exc:
            log.error("web.store_error", error=str(exc))
            return self._error(_Unavailable())

    def _authorized(self, request: Request) -> bool:
        auth = request.authorization
        if auth is None or auth.type != "basic" or auth.password is None or not self._token:
            return False
        # Constant time: the comparison must not reveal how much of a guess was right.
        return hmac.compare_digest(auth.password.encode("utf-8"), self._token)

    def _unauthorized(self) -> Response:
        response = self._page(
            "error.html",
            status=401,
            title="Unauthorized",
            message="This page needs the access token as the password.",
        )
        response.headers["WWW-Authenticate"] = 'Basic realm="poller status", charset="UTF-8"'
        return response

    def _error(self, exc: HTTPException) -> Response:
        response = self._page(
            "error.html", status=exc.code or 500, title=exc.name, message=exc.description or ""
        )
        if isinstance(exc, MethodNotAllowed):
            response.headers["Allow"] = ", ".join(READ_METHODS)
        return response

    def _page(self, template: str, *, status: int = 200, **context: Any) -> Response:
        html = self.jinja.get_template(template).render(**context)
        return Response(html, status=status, mimetype="text/html")

    # -- pages -----------------------------------------------------------------------------
    def page_index(self, request: Request) -> Response:
        data = status_data(self.ledger)
        now = self._clock() if self._clock else None
        days = hires_per_day(self.ledger, days=CHART_DAYS, now=now)
        return self._page(
            "index.html", title="Status", data=data, counts=data["counts"], chart=_chart(days)
        )

    def page_applications(self, request: Request) -> Response:
        state = request.args.get("state", "").strip() or None
        if state is not None and not _STATE.match(state):
            raise BadRequest("state: not a state name.")
        query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
        try:
            number = int(request.args.get("page", "1"))
        except ValueError:
            raise BadRequest("page: not a number.") from None
        if not 1 <= number <= 1_000_000:
            raise BadRequest("page: out of range.")
        page = search(self.ledger, state=state, query=query, page=number, size=self.page_size)

        def link(n: int) -> str:
            params = {k: v for k, v in (("state", state), ("q", query)) if v}
            return "/applications?" + urlencode({**params, "page": n})

        return self._page(
            "applications.html",
            title="Applications",
            page=page,
            rows=[dict(row_fields(r)) for r in page.rows],
            columns=TABLE_COLUMNS,
            states=[*self.ledger.counts(), UNHIRED, CHANGED],
            state=state or "",
            query=query,
            prev_link=link(number - 1) if number > 1 else None,
            next_link=link(number + 1) if number < page.pages else None,
        )

    def page_application(self, request: Request, app_id: str) -> Response:
        rec = self.ledger.get(app_id)
        if rec is None:
            raise NotFound(f"No row for application {app_id}.")
        return self._page(
            "application.html",
            title=f"Application {app_id}",
            app_id=app_id,
            fields=row_fields(rec),
            notes=row_notes(rec),
            changes=change_rows(self.ledger.changes_of(app_id)),
            history=history_rows(self.ledger.events(app_id)),
        )

    def page_static(self, request: Request, name: str) -> Response:
        if name not in self._static:
            raise NotFound()
        body, mimetype = self._static[name]
        return Response(body, mimetype=mimetype)


class _Unavailable(HTTPException):
    code = 503
    description = "The database can't be read just now; see the logs."


def _loopback_host(host_header: str) -> bool:
    hostname = urlsplit(f"//{host_header}").hostname
    return hostname is not None and is_loopback_host(hostname)


def _chart(days: list[tuple[date, int]]) -> dict[str, Any]:
    """Bars for an inline SVG (no script, no inline style): 30 days, tallest bar 100 high."""
    peak = max((n for _, n in days), default=0)
    bar, gap, height = 16, 4, 100
    bars = []
    for i, (day, n) in enumerate(days):
        h = round(height * n / peak) if peak else 0
        bars.append(
            {
                "x": i * (bar + gap),
                "y": height - h,
                "width": bar,
                "height": h,
                "label": f"{day.isoformat()}: {n} hire{'' if n == 1 else 's'}",
                "n": n,
            }
        )
    return {
        "bars": bars,
        "width": len(days) * (bar + gap) - gap,
        "height": height,
        "peak": peak,
        "total": sum(n for _, n in days),
        "first": days[0][0].isoformat() if days else "",
        "last": days[-1][0].isoformat() if days else "",
    }
