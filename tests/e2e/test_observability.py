"""What operators see: metrics that agree with the simulators' audit, JSON logs that carry
the cycle and application context, and a /healthz that turns 503 when cycles stop succeeding.

Metrics are process-global counters, so in-process checks compare deltas around one cycle.
In "url" CV mode HiBob fetches the CV from Pinpoint's file link itself: those fetches are in
the Pinpoint audit but are not the poller's requests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from poller import metrics
from poller.sandbox import AuditSnapshot, Sandbox
from tests.e2e.harness import make_poller, write_config
from tests.e2e.test_cli import poller
from tests.support.config import POLLER, secrets_env

CV_FETCH = "GET /files/{token}/{filename}"  # HiBob's own download of a CV link

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def by_label(samples: Samples, name: str, *keys: str) -> Counter[tuple[str, ...]]:
    """A metric summed over every label but ``keys``."""
    out: Counter[tuple[str, ...]] = Counter()
    for (sample, labels), v in samples.items():
        if sample == name:
            d = dict(labels)
            out[tuple(d[k] for k in keys)] += int(v)
    return out


def audit_by_api_status(
    audit: AuditSnapshot, *, skip: str | None = None
) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for (api, method, route, status), n in audit.counts.items():
        if f"{method} {route}" != skip:
            out[(api, str(status))] += n
    return out


def test_metrics_agree_with_the_audit_and_the_ledger(tmp_path: Path) -> None:
    with Sandbox(seed=31, hires=8) as sb:
        p = make_poller(tmp_path, sb, f"sqlite:///{tmp_path}/p.db")
        try:
            before = parse_metrics(generate_latest(metrics.REGISTRY).decode())
            started = time.time()
            result = p.run()
            after = parse_metrics(generate_latest(metrics.REGISTRY).decode())
            counts = p.ledger.counts()
        finally:
            p.close()
        assert result.ok
        audit = sb.audit()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    created = sum(audit.employees_created_per_email().values())
    assert created == 6  # 8 hires: one rehire is linked, one anonymised hire fails
    assert delta("poller_hires_total", outcome="created") == created
    assert delta("poller_hires_total", outcome="linked_existing") == 1
    assert delta("poller_hires_total", outcome="failed") == counts["failed"] == 1
    assert delta("poller_cycles_total", outcome="ok") == 1
    assert delta("poller_cycles_total", outcome="error") == 0
    assert delta("poller_cycle_duration_seconds_count") == 1
    assert started <= value(after, "poller_last_successful_cycle_timestamp_seconds") <= time.time()
    for state in ("done", "failed", "pending", "baseline"):
        assert value(after, "poller_applications", state=state) == counts[state]
    assert counts["done"] == 7
    assert value(after, "poller_oldest_pending_age_seconds") == 0

    requests = by_label(after, "poller_upstream_requests_total", "api", "status")
    requests.subtract(by_label(before, "poller_upstream_requests_total", "api", "status"))
    assert +requests == audit_by_api_status(audit, skip=CV_FETCH)
    assert audit.requests(endpoint=CV_FETCH) > 0  # HiBob did fetch the CVs, by their links


def test_json_logs_carry_the_cycle_and_application_context(tmp_path: Path) -> None:
    with Sandbox(seed=32, hires=6) as sb:
        extra = {"logging": {"level": "INFO", "format": "json"}}
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{tmp_path}/p.db", extra)
        out = poller("run", "--once", config=cfg, env=secrets_env(sb))
        assert out.returncode == 0, out.stderr
        audit = sb.audit()

    for secret in secrets_env(sb).values():
        assert secret not in out.stderr + out.stdout
    events = [json.loads(line) for line in out.stderr.splitlines()]  # every line is JSON
    for e in events:
        assert {"timestamp", "level", "event"} <= set(e), e
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["event"] == "cycle.summary" and summary["outcome"] == "ok"
    cycle_id = summary["cycle_id"]

    http = [e for e in events if e["event"] == "http.request"]
    assert len(http) == audit.requests() - audit.requests(endpoint=CV_FETCH)
    for e in http:
        assert {"api", "method", "path", "status", "ms"} <= set(e), e
        assert "?" not in e["path"] and e["cycle_id"] == cycle_id
    per_app = [e for e in http if e.get("application_id")]
    assert {e["path"] for e in per_app} >= {
        f"/applications/{a}" for a in sb.hired_application_ids()
    }

    steps = [e for e in events if e["event"] == "application.step"]
    assert steps
    for e in steps:
        assert e["cycle_id"] == cycle_id, e
        assert e["application_id"] and e["step"] and e["outcome"], e
    finished = [e for e in events if e["event"] == "application.finished"]
    assert sorted(e["application_id"] for e in finished) == sorted(sb.hired_application_ids())
    for e in finished:
        assert e["cycle_id"] == cycle_id and e["outcome"] in ("done", "failed")
        assert isinstance(e["duration_ms"], int) and e["duration_ms"] >= 0
    assert {e["application_id"] for e in steps if e["outcome"] == "done"} == {
        e["application_id"] for e in finished if e["outcome"] == "done"
    }
    [cycle] = [e for e in events if e["event"] == "cycle.finished"]
    assert cycle["cycle_id"] == cycle_id and cycle["duration_s"] >= 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(what: str, probe: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(probe) and probe():
                return
        except OSError:
            pass  # the endpoint is not listening yet
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_long_running_loop_serves_health_and_metrics(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with Sandbox(seed=33, hires=6) as sb:
        extra: dict[str, dict[str, Any]] = {
            "schedule": {"interval_seconds": 5, "health_stale_intervals": 1},
            "server": {"host": "127.0.0.1", "port": port},
            "cv": {"mode": "upload"},  # the poller downloads CVs: every request is its own
            "logging": {"level": "INFO", "format": "json"},
        }
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{tmp_path}/p.db", extra)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("POLLER_", "PINPOINT_", "HIBOB_"))
        }
        proc = subprocess.Popen(
            [*POLLER, "--config", str(cfg), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, **secrets_env(sb)},
        )
        try:
            _wait_for(
                "the first successful cycle",
                lambda: "last successful cycle" in _get(f"{base}/healthz")[1],
                timeout=15,
            )
            status, body = _get(f"{base}/healthz")
            assert status == 200 and json.loads(body)["status"] == "ok"

            # Between cycles nothing moves: read until two scrapes agree around the audit.
            for _ in range(20):
                first = _get(f"{base}/metrics")[1]
                audit = sb.audit()
                if _get(f"{base}/metrics")[1] == first:
                    break
            else:
                raise AssertionError("the metrics never held still between two scrapes")
            scraped = parse_metrics(first)
            assert by_label(scraped, "poller_upstream_requests_total", "api", "status") == (
                audit_by_api_status(audit)
            )
            created = sum(audit.employees_created_per_email().values())
            assert value(scraped, "poller_hires_total", outcome="created") == created == 4
            assert value(scraped, "poller_applications", state="done") == 5
            assert value(scraped, "poller_cycles_total", outcome="ok") >= 1
            assert value(scraped, "poller_last_successful_cycle_timestamp_seconds") > 0

            # Cycles now fail (Pinpoint refuses the key): health turns 503 after the window.
            sb.pinpoint.set_forbidden(True)
            _wait_for("/healthz to turn 503", lambda: _get(f"{base}/healthz")[0] == 503, 15)
            reason = json.loads(_get(f"{base}/healthz")[1])["reason"]
            assert reason.startswith("last successful cycle") and "allowed 5s" in reason
            failed = parse_metrics(_get(f"{base}/metrics")[1])
            assert value(failed, "poller_cycles_total", outcome="error") >= 1

            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    outcomes = [json.loads(line)["outcome"] for line in out.splitlines()]
    assert outcomes[0] == "ok" and "error" in outcomes
    logged = [json.loads(line)["event"] for line in err.splitlines()]  # JSON to the last line
    assert "shutdown.requested" in logged and logged[-1] == "scheduler.stopped"


def test_a_hire_with_a_skipped_cv_is_counted_once(tmp_path: Path) -> None:
    with Sandbox(seed=34, hires=0) as sb:
        sb.pinpoint.add_hire("Cara", "Skipped", "cara@example.com", cv="pdf")
        sb.faults("hibob", "POST /docs/people/{id}/shared", error_rate="always", error_status=422)
        p = make_poller(tmp_path, sb, f"sqlite:///{tmp_path}/p.db")
        try:
            before = parse_metrics(generate_latest(metrics.REGISTRY).decode())
            assert p.run().ok
            after = parse_metrics(generate_latest(metrics.REGISTRY).decode())
            assert p.ledger.counts()["failed"] == 1  # employee and comment done, CV skipped
        finally:
            p.close()
    hires = by_label(after, "poller_hires_total", "outcome")
    hires.subtract(by_label(before, "poller_hires_total", "outcome"))
    assert +hires == Counter({("failed",): 1})
