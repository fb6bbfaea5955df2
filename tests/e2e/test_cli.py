"""The `poller` command as users and deployments run it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.e2e.harness import write_config
from tests.support.config import POLLER, secrets_env


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=21, hires=8) as sb:
        yield sb


def poller(
    *args: str, config: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("POLLER_", "PINPOINT_", "HIBOB_"))
    }
    full_env.update(env or {})
    cmd = [*POLLER, *(["--config", str(config)] if config else []), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


def test_run_once_then_inspect_retry_resolve_and_purge(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    cfg = write_config(tmp_path / "config.toml", sandbox, db_url)
    env = secrets_env(sandbox)
    done = poller("run", "--once", config=cfg, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["event"] == "cycle.summary" and summary["outcome"] == "ok"
    assert summary["outcomes"]["done"] == 7 and summary["outcomes"]["failed"] == 1

    status = poller("status", "--format", "json", config=cfg)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["counts"]["done"] == 7 and data["counts"]["failed"] == 1
    assert data["watermark"] and data["last_successful_poll"]
    text = poller("status", config=cfg).stdout
    assert "baseline" in text and "Watermark" in text

    rows = json.loads(poller("list", "--format", "json", "--limit", "0", config=cfg).stdout)
    assert len(rows) == 8 and {"application_id", "state", "hibob_employee_id"} <= set(rows[0])
    failed = json.loads(poller("list", "--state", "failed", "--format", "json", config=cfg).stdout)
    assert len(failed) == 1
    bad = failed[0]["application_id"]
    csv_out = poller("list", "--format", "csv", "--limit", "2", config=cfg).stdout.splitlines()
    assert csv_out[0].startswith("application_id,state") and len(csv_out) == 3
    tsv = poller("list", config=cfg).stdout.splitlines()  # not a TTY: tab-separated
    assert tsv[0].split("\t")[0] == "application_id" and len(tsv) == 9

    shown = poller("show", bad, config=cfg)
    assert shown.returncode == 0 and "history:" in shown.stdout and "email" in shown.stdout
    shown_json = json.loads(poller("show", bad, "--format", "json", config=cfg).stdout)
    assert shown_json["state"] == "failed" and shown_json["history"]
    assert poller("show", "nope", config=cfg).returncode == 1

    retried = poller("retry", bad, config=cfg)
    assert retried.returncode == 0 and "1 row(s)" in retried.stdout
    assert (
        json.loads(poller("show", bad, "--format", "json", config=cfg).stdout)["state"] == "pending"
    )
    assert poller("retry", bad, config=cfg).returncode == 1  # not failed any more
    assert poller("retry", config=cfg).returncode == 2  # neither an id nor --all-failed

    resolved = poller("resolve", bad, "--note", "created by hand in HiBob", config=cfg)
    assert resolved.returncode == 0
    history = json.loads(poller("show", bad, "--format", "json", config=cfg).stdout)["history"]
    assert history[-1]["message"] == "created by hand in HiBob"

    some = rows[0]["application_id"]
    assert poller("purge", some, config=cfg).returncode == 1  # no confirmation on stdin
    assert poller("purge", some, "--yes", config=cfg).returncode == 0
    purged = json.loads(poller("show", some, "--format", "json", config=cfg).stdout)
    assert purged["email"] is None and purged["candidate_name"] is None


def test_config_errors_are_all_listed_with_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[pinpoint]\nbase_url = "http://pinpoint.example.com/api/v1"\n'
        "[worker]\nconcurrency = 0\nbogus = 1\n"
    )
    out = poller("run", "--once", config=cfg, env={"POLLER_SCHEDULE__INTERVAL_SECONDS": "x"})
    assert out.returncode == 2
    for needle in ("pinpoint.base_url", "worker.concurrency", "worker.bogus", "interval_seconds"):
        assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_secrets_and_bad_usage_exit_2(tmp_path: Path, sandbox: Sandbox) -> None:
    cfg = write_config(tmp_path / "config.toml", sandbox, f"sqlite:///{tmp_path}/p.db")
    out = poller("run", "--once", config=cfg)
    assert out.returncode == 2
    assert "PINPOINT_API_KEY" in out.stderr and "HIBOB_BASE64_TOKEN" in out.stderr
    assert poller("run", "--dry-run", config=cfg, env=secrets_env(sandbox)).returncode == 2
    bad_date = poller("run", "--once", "--backfill-since", "yesterday", config=cfg)
    assert bad_date.returncode == 2


def test_bad_credentials_and_store_outage_exit_1(tmp_path: Path, sandbox: Sandbox) -> None:
    cfg = write_config(tmp_path / "config.toml", sandbox, f"sqlite:///{tmp_path}/p.db")
    wrong = {"PINPOINT_API_KEY": "wrong-key-123", "HIBOB_BASE64_TOKEN": sandbox.hibob_token}
    out = poller("run", "--once", config=cfg, env=wrong)
    assert out.returncode == 1
    assert "401" in out.stderr and "wrong-key-123" not in out.stderr + out.stdout

    down = write_config(
        tmp_path / "down.toml", sandbox, "postgresql://postgres:s3cretpw@127.0.0.1:1/none"
    )
    out = poller("run", "--once", config=down, env=secrets_env(sandbox))
    assert out.returncode == 1 and "database" in out.stderr and "s3cretpw" not in out.stderr
    assert "Traceback" not in out.stderr
    assert sandbox.audit().write_requests() == 0


def test_first_run_baselines_old_hires_and_backfill_processes_them(
    tmp_path: Path, db_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    with Sandbox(seed=4, hires=0) as sb:
        old = sb.pinpoint.add_hire(
            "Olga", "Old", "olga@example.com", updated_at=datetime.now(UTC) - timedelta(days=400)
        )
        cfg = write_config(
            tmp_path / "config.toml", sb, db_url, {"discovery": {"backfill_since": "2026-01-01"}}
        )
        # Without backfill_since the first cycle's own start is the cut-off.
        cfg.write_text(cfg.read_text().replace('backfill_since = "2026-01-01"', ""))
        env = secrets_env(sb)
        assert poller("run", "--once", config=cfg, env=env).returncode == 0
        status = json.loads(poller("status", "--format", "json", config=cfg).stdout)
        assert status["counts"]["baseline"] == 1
        assert sb.audit().employees_created_per_email() == {}

        new = sb.pinpoint.add_hire("Nina", "New", "nina@example.com")
        assert poller("run", "--once", config=cfg, env=env).returncode == 0
        assert sb.audit().employees_created_per_email() == {"nina@example.com": 1}

        since = (datetime.now(UTC) - timedelta(days=500)).date().isoformat()
        out = poller("run", "--once", "--backfill-since", since, config=cfg, env=env)
        assert out.returncode == 0, out.stderr
        rows = {
            r["application_id"]: r
            for r in json.loads(poller("list", "--format", "json", config=cfg).stdout)
        }
        assert rows[old]["state"] == "done" and rows[new]["state"] == "done"
        assert sb.audit().employees_created_per_email() == {
            "nina@example.com": 1,
            "olga@example.com": 1,
        }


def test_long_running_loop_stops_cleanly_on_sigterm(tmp_path: Path, sandbox: Sandbox) -> None:
    db = f"sqlite:///{tmp_path}/p.db"
    cfg = write_config(tmp_path / "config.toml", sandbox, db, {"schedule": {"interval_seconds": 5}})
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("POLLER_", "PINPOINT_", "HIBOB_"))
    }
    full_env.update(secrets_env(sandbox))
    proc = subprocess.Popen(
        [*POLLER, "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not sandbox.audit().comments_per_application():
            time.sleep(0.2)
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "cycle.summary" in out
    rows = json.loads(poller("list", "--format", "json", config=cfg).stdout)
    assert rows and not [r for r in rows if r["state"] == "in_progress"]


def test_demo_tells_the_whole_story_with_no_credentials() -> None:
    """`poller demo`: both simulators, a batch, a mis-click inside the settle window, an
    un-hire after processing, a moved start date written to HiBob and an email change
    flagged, and a second cycle that writes nothing else."""
    out = poller("demo", timeout=120)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert re.search(r"Found \d+ hires in Pinpoint \(confidential jobs included\)", text)
    assert "within the 10-minute settle window. It is withdrawn: nobody was created" in text
    assert re.search(r"An un-hire: application \d+ was moved to Rejected after", text)
    assert re.search(r"offer now starts on [\d-]+ \(HiBob had [\d-]+\)\. .* HiBob: synced", text)
    assert re.search(r"A changed email: application \d+ .* It is flagged, not written", text)
    assert "The second cycle made 1 write request(s), 1 of them the moved start date" in text
    assert "Traceback" not in out.stderr
