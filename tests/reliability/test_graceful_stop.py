"""Issue 4.6: SIGTERM mid-batch, to `poller run --once` and to the long-running `poller run`:
the application in hand is finished, no row is left in_progress, and the exit is 0, quickly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.reliability.harness import SEED, PollerCli, report

HIRES = 30
GRACE = 15.0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["once", "loop"])
def test_sigterm_mid_batch_finishes_the_row_in_hand_and_exits_0(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    with Sandbox(seed=SEED, hires=0) as sb:
        sb.pinpoint.seed_hires(HIRES)
        sb.faults("hibob", "POST /people", latency_ms=250)  # a long batch
        sb.faults("pinpoint", "POST /comments", latency_ms=250)
        cli = PollerCli(
            tmp_path,
            sb,
            db_url,
            {
                "worker": {"concurrency": 2, "lease_seconds": 60},
                "schedule": {"interval_seconds": 5},
                "server": {"port": 0},
            },
        )
        proc = cli.start("run", *(["--once"] if mode == "once" else []))
        deadline = time.monotonic() + 30
        while len(sb.audit().employees_created_per_email()) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the batch ended early"
            time.sleep(0.02)  # until the batch is well under way
        proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        out, err = proc.communicate(timeout=GRACE + 10)
        took = time.monotonic() - asked
        assert proc.returncode == 0, err[-2000:]
        rows = cli.list_rows()
        audit = sb.audit()
    states = [r["state"] for r in rows]
    done = [r for r in rows if r["state"] == "done"]
    report(
        "graceful_stop",
        db=db_url.split(":", 1)[0],
        mode=mode,
        done=len(done),
        exit_s=round(took, 2),
    )
    assert took < GRACE
    assert "in_progress" not in states
    assert 0 < len(done) < HIRES, "the stop landed mid-batch"
    # Every row was finished or never touched: no employee without its CV and comment.
    untouched = [r for r in rows if r["state"] == "pending"]
    assert all(r["hibob_employee_id"] is None and r["attempts"] == 0 for r in untouched)
    assert len(audit.employees_created_per_email()) == len(done)
    assert set(audit.comments_per_application()) == {r["application_id"] for r in done}
    assert '"stopped_early": true' in out
