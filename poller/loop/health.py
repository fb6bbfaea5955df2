"""The liveness/metrics endpoint of `poller run`: GET /healthz and GET /metrics.

A stdlib ThreadingHTTPServer in a daemon thread is enough for two probe paths and a
Prometheus scrape; it adds no dependency and never blocks the scheduler. Health is a pure
function of a few timestamps and an injectable clock, so tests need no sleeping.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from poller.metrics import REGISTRY

__all__ = ["Health", "HealthServer", "start_server"]


class Health:
    """Whether the long-running loop is alive and making progress.

    Unhealthy when the scheduler is not running, or when no cycle has succeeded within
    `stale_intervals * interval_seconds`. Before the first success the age is measured from
    the scheduler's start, with one extra interval of grace: the first cycle may be a long
    backfill, and a restart loop caused by a slow first cycle would only make it slower.
    """

    def __init__(
        self,
        interval_seconds: float,
        stale_intervals: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        if stale_intervals < 1:
            raise ValueError("stale_intervals must be at least 1")
        self._interval = float(interval_seconds)
        self._window = stale_intervals * self._interval
        self._clock = clock
        # The HTTP thread reads while the scheduler thread writes.
        self._lock = threading.Lock()
        self._running = False
        self._started_at: float | None = None
        self._last_success: float | None = None
        self._last_cycle_ok: bool | None = None

    def scheduler_started(self) -> None:
        with self._lock:
            self._running = True
            self._started_at = self._clock()

    def scheduler_stopped(self) -> None:
        with self._lock:
            self._running = False

    def cycle_finished(self, ok: bool) -> None:
        with self._lock:
            self._last_cycle_ok = ok
            if ok:
                self._last_success = self._clock()

    def status(self) -> tuple[bool, str]:
        """(healthy, a one-line reason a person can act on)."""
        with self._lock:
            if not self._running or self._started_at is None:
                return False, "scheduler is not running"
            now = self._clock()
            if self._last_success is None:
                waited = now - self._started_at
                allowed = self._window + self._interval
                if waited > allowed:
                    return False, (
                        f"no successful cycle since start {waited:.0f}s ago "
                        f"(allowed {allowed:.0f}s)"
                    )
                return True, f"started {waited:.0f}s ago, first cycle pending"
            age = now - self._last_success
            if age > self._window:
                return False, (
                    f"last successful cycle {age:.0f}s ago (allowed {self._window:.0f}s)"
                )
            suffix = "" if self._last_cycle_ok is not False else "; the latest cycle failed"
            return True, f"last successful cycle {age:.0f}s ago{suffix}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], health: Health) -> None:
        self.health = health
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "poller"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            healthy, reason = cast(_Server, self.server).health.status()
            body = (
                {"status": "ok", "detail": reason}
                if healthy
                else {"status": "unhealthy", "reason": reason}
            )
            self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
        else:
            self._send(404, "application/json", b'{"status":"not found"}')

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Probes arrive every few seconds; an access line for each would drown the real logs.
        return


class HealthServer:
    """A running endpoint; `port` is the bound port (useful when asked for port 0)."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_server(host: str, port: int, health: Health) -> HealthServer:
    """Serve /healthz and /metrics on host:port from a daemon thread until `stop()`."""
    server = _Server((host, port), health)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="poller-health",
        daemon=True,
    )
    thread.start()
    return HealthServer(server, thread)
