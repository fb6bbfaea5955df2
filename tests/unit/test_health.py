"""Health rules on a fake clock, and the endpoint over real loopback HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from poller import metrics
from poller.loop.health import Health, HealthServer, start_server

INTERVAL = 300.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> Health:
    return Health(INTERVAL, stale_intervals=3, clock=clock)


@pytest.fixture
def server(health: Health) -> Iterator[HealthServer]:
    srv = start_server("127.0.0.1", 0, health)
    try:
        yield srv
    finally:
        srv.stop()


def get(srv: HealthServer, path: str) -> tuple[int, str, bytes]:
    url = f"http://127.0.0.1:{srv.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read()


def test_unhealthy_before_scheduler_starts(health: Health) -> None:
    assert health.status() == (False, "scheduler is not running")


def test_healthy_after_a_successful_cycle(health: Health, clock: FakeClock) -> None:
    health.scheduler_started()
    clock.advance(2)
    health.cycle_finished(ok=True)
    clock.advance(INTERVAL)
    healthy, reason = health.status()
    assert healthy
    assert "last successful cycle 300s ago" in reason


def test_unhealthy_when_cycles_stop(health: Health, clock: FakeClock) -> None:
    health.scheduler_started()
    health.cycle_finished(ok=True)
    clock.advance(3 * INTERVAL)
    assert health.status()[0]
    clock.advance(1)
    healthy, reason = health.status()
    assert not healthy
    assert "901s ago" in reason


def test_failed_cycles_do_not_count_as_progress(health: Health, clock: FakeClock) -> None:
    health.scheduler_started()
    health.cycle_finished(ok=True)
    for _ in range(3):
        clock.advance(INTERVAL)
        health.cycle_finished(ok=False)
    healthy, reason = health.status()
    assert healthy
    assert "latest cycle failed" in reason
    clock.advance(1)
    assert not health.status()[0]


def test_first_cycle_gets_one_interval_of_grace(health: Health, clock: FakeClock) -> None:
    health.scheduler_started()
    clock.advance(4 * INTERVAL)
    healthy, reason = health.status()
    assert healthy
    assert "first cycle pending" in reason
    clock.advance(1)
    healthy, reason = health.status()
    assert not healthy
    assert "no successful cycle since start" in reason


def test_unhealthy_when_scheduler_stopped(health: Health, clock: FakeClock) -> None:
    health.scheduler_started()
    health.cycle_finished(ok=True)
    health.scheduler_stopped()
    assert health.status() == (False, "scheduler is not running")


@pytest.mark.parametrize(("interval", "stale"), [(0, 3), (-1, 3), (300, 0)])
def test_rejects_nonsense_settings(interval: float, stale: int) -> None:
    with pytest.raises(ValueError):
        Health(interval, stale_intervals=stale)


def test_healthz_serves_200_json_when_healthy(server: HealthServer, health: Health) -> None:
    assert server.port > 0
    health.scheduler_started()
    health.cycle_finished(ok=True)
    status, content_type, body = get(server, "/healthz")
    assert status == 200
    assert content_type == "application/json"
    payload = json.loads(body)
    assert payload["status"] == "ok"
    assert payload["detail"].startswith("last successful cycle")


def test_healthz_serves_503_json_when_unhealthy(
    server: HealthServer, health: Health, clock: FakeClock
) -> None:
    health.scheduler_started()
    health.cycle_finished(ok=True)
    clock.advance(10 * INTERVAL)
    status, content_type, body = get(server, "/healthz?probe=liveness")
    assert status == 503
    assert content_type == "application/json"
    payload = json.loads(body)
    assert payload["status"] == "unhealthy"
    assert "last successful cycle" in payload["reason"]


def test_metrics_serves_prometheus_text(server: HealthServer) -> None:
    metrics.cycles_total.labels(outcome="ok").inc()
    metrics.last_successful_cycle.set(1_700_000_000)
    status, content_type, body = get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    text = body.decode()
    assert "# TYPE poller_cycles_total counter" in text
    assert 'poller_cycles_total{outcome="ok"}' in text
    assert "poller_last_successful_cycle_timestamp_seconds 1.7e+09" in text
    assert "poller_cycle_duration_seconds_bucket" in text


def test_unknown_path_is_404(server: HealthServer) -> None:
    status, _, body = get(server, "/admin")
    assert status == 404
    assert json.loads(body) == {"status": "not found"}


def test_stop_releases_the_port(health: Health) -> None:
    srv = start_server("127.0.0.1", 0, health)
    port = srv.port
    srv.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
