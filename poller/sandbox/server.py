"""A threaded loopback HTTP server that runs one simulator's routing table.

Per request, in order: match the route; draw faults (latency, 5xx, stall); authenticate; rate
limit; run the handler; apply post-handling faults (lost response, hostile body); audit. The
/_sandbox/ control routes skip everything but the loopback check.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from .audit import Audit, AuditEntry
from .clock import SimClock
from .faults import FaultDecision, Faults
from .ratelimit import RateLimiter
from .routing import Match, Reject, Request, Response, Route, html_response, match

log = logging.getLogger(__name__)

# Largest request body read: a 5 MB document plus multipart framing. Bigger bodies get 413.
MAX_BODY_BYTES = 6 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 30  # a keep-alive connection idle this long is closed
_ERROR_TITLES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


class SimApp(Protocol):
    """What a simulator gives the server."""

    api: str
    faults: Faults
    limiter: RateLimiter
    audit: Audit
    clock: SimClock
    rate_limit_headers: bool

    def routes(self) -> list[Route]: ...
    def bind(self, origin: str) -> None: ...
    def authenticate(self, request: Request) -> Response | None: ...
    def error(self, status: int, key: str, message: str) -> Response: ...
    def configure(self, settings: dict[str, Any]) -> None: ...
    def config(self) -> dict[str, Any]: ...


@functools.cache
def _huge_body() -> bytes:
    row = b'{"id":"0","type":"applications","attributes":{"note":"' + b"x" * 1000 + b'"}},'
    return b'{"data":[' + row * (10 * 1024 * 1024 // len(row) + 1) + b'{"id":"1"}]}'


def hostile_response(mode: str, original: Response) -> Response:
    """A 200 that a careful client must refuse."""
    json_type = original.headers.get("Content-Type", "application/json")
    if mode == "html":
        return html_response(200, "Please sign in")
    if mode == "truncated":
        body = original.body[: len(original.body) // 2] if len(original.body) > 2 else b'{"da'
        return Response(200, body, {"Content-Type": json_type})
    if mode == "empty":
        return Response(200, b"", {"Content-Type": json_type})
    return Response(200, _huge_body(), {"Content-Type": json_type})


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


class SimServer:
    """One simulator on one port. `start()` serves from a daemon thread; `stop()` ends it."""

    def __init__(self, app: SimApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._routes = app.routes()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._httpd.server_address[:2]
        self.port = int(bound_port)
        self.origin = f"http://{bound_host!s}:{self.port}"
        app.bind(self.origin)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.app.api}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled requests
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.close_connections()
        self._httpd.server_close()

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def dispatch(self, request: Request) -> Response:
        found, other_method = match(self._routes, request.method, request.path)
        if found is not None and found.route.control:
            if not _is_loopback(request.client_host):
                return self.app.error(403, "forbidden", "The control plane answers loopback only")
            request.params = found.params
            return self._call(found.route, request)
        started = time.monotonic()
        response = self._serve(request, found, other_method)
        self.app.audit.record(
            AuditEntry(
                api=self.app.api,
                method=request.method,
                route=found.route.template if found else "(unmatched)",
                path=request.path,
                status=response.status,
                time=self.app.clock.now().isoformat(timespec="milliseconds"),
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
        )
        return response

    def _serve(self, request: Request, found: Match | None, other_method: bool) -> Response:
        decision: FaultDecision = self.app.faults.draw(found.route.key if found else None)
        self._pause(decision.latency_s)
        if decision.error_status is not None:
            status = decision.error_status
            if status < 500:
                return self.app.error(status, "fault.injected", "Injected rejection (sandbox)")
            return html_response(status, _ERROR_TITLES.get(status, "Server Error"))
        self._pause(decision.stall_s)
        admitted = self._admit(request, found, other_method)
        if isinstance(admitted, Response):
            return admitted
        response = self._handle(request, admitted)
        if decision.lose:  # the write above is applied; only the answer is lost
            return html_response(502, _ERROR_TITLES[502])
        if decision.hostile is not None:
            return hostile_response(decision.hostile, response)
        return response

    def _admit(self, request: Request, found: Match | None, other_method: bool) -> Match | Response:
        """The route to run, or the refusal: auth, unknown route, oversized body."""
        app = self.app
        if found is None or found.route.auth:
            denied = app.authenticate(request)
            if denied is not None:
                return denied
        if found is None:
            if other_method:
                return app.error(405, "method.not.allowed", f"{request.method} is not allowed here")
            return app.error(404, "not.found", f"No route for {request.method} {request.path}")
        if request.too_large:
            return app.error(413, "request.too.large", "The request body is over the size limit")
        return found

    def _handle(self, request: Request, found: Match) -> Response:
        """Rate limit, then run the handler; a limited endpoint's answers carry the headers."""
        app = self.app
        verdict = app.limiter.check(found.route.key, app.clock.epoch())
        if verdict is not None and not verdict.allowed:
            response = app.error(429, "rate.limit", f"Rate limit of {verdict.limit}/min exceeded")
        else:
            request.params = found.params
            response = self._call(found.route, request)
        if verdict is not None and app.rate_limit_headers:
            response.headers.update(verdict.headers())
        return response

    def _call(self, route: Route, request: Request) -> Response:
        try:
            return route.handler(request)
        except Reject as reject:
            return reject.response
        except Exception:  # a simulator bug: answer 500 like a real server, and say why
            log.exception("sandbox %s handler failed: %s", self.app.api, route.key)
            return self.app.error(500, "internal", "The simulator failed; see its log")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: SimServer) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop kept-alive connections, so no client talks to a stopped simulator."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeouts, stalls) is expected; anything else is printed.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as production APIs do
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't wait 40 ms
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the audit records requests, without query strings."""

    def _read_body(self) -> tuple[bytes, bool]:
        """The body, or (b"", True) when it is over MAX_BODY_BYTES (read and dropped)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True  # unsupported: the 413 below is honest enough
            return b"", True
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True
            return b"", True
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length), False
        # Drain it, so the client reads our 413 instead of a connection reset.
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)
        return b"", True

    def _serve(self) -> None:
        body, too_large = self._read_body()
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client_host=str(self.client_address[0]),
            too_large=too_large,
        )
        response = self.server.sim.dispatch(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)
