"""The ledger's CPU per hire: the claim and checkpoints of a fresh hire, without any HTTP.

    python -m bench.ledger_cost                     # a fresh SQLite file, 1,000 hires
    python -m bench.ledger_cost --database-url postgresql://postgres@127.0.0.1/test

One thread runs what the flow commits for a fresh hire with a CV: the claim, then the four
checkpoint commits (map + create_started, employee + cv_started, cv + comment_started,
done), with the values and history lines the flow writes. CPU is time.process_time() of
this process; PostgreSQL's own CPU, in the server process, isn't counted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from poller.models import HireSummary
from poller.store.ledger import Ledger
from tests.support.ledger import discover


def run(url: str, hires: int) -> float:
    """CPU ms per hire."""
    ledger = Ledger(url)
    ledger.migrate()
    now = datetime.now(UTC)
    prefix = uuid.uuid4().hex[:8]  # a PostgreSQL database may hold an earlier run's rows
    discover(
        ledger,
        [HireSummary(f"{prefix}-{i}", now) for i in range(hires)],
        baseline_before=None,
        now=now,
    )
    started = time.process_time()
    for _ in range(hires):
        rec = ledger.claim_next("bench", lease_seconds=60, now=now)
        assert rec is not None
        app, n = rec.application_id, rec.attempts
        ledger.checkpoint(
            app,
            "bench",
            step="employee",
            outcome="create_started",
            attempt=n,
            now=now,
            lease_seconds=60,
            history=[("map", "mapped", None)],
            candidate_name="Ada Lovelace",
            email="ada@example.com",
            pinpoint_updated_at=now,
            create_started_at=now,
        )
        ledger.checkpoint(
            app,
            "bench",
            step="cv",
            outcome="started",
            attempt=n,
            now=now,
            lease_seconds=60,
            history=[("employee", "created", None)],
            hibob_employee_id="3332883884017713238",
            employee_link="created",
            cv_started_at=now,
        )
        ledger.checkpoint(
            app,
            "bench",
            step="comment",
            outcome="started",
            attempt=n,
            now=now,
            lease_seconds=60,
            history=[("cv", "uploaded", None)],
            cv_status="uploaded",
            cv_document_id="9131",
            comment_started_at=now,
        )
        ledger.checkpoint(
            app,
            "bench",
            step="comment",
            outcome="done",
            attempt=n,
            now=now,
            state="done",
            claimed_by=None,
            lease_expires_at=None,
            next_attempt_at=None,
            completed_at=now,
            pinpoint_comment_id="5",
            last_error=None,
            last_error_step=None,
        )
    elapsed = time.process_time() - started
    ledger.dispose()
    return elapsed / hires * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.ledger_cost", description=__doc__.split("\n")[0]
    )
    p.add_argument("--hires", type=int, default=1000)
    p.add_argument("--database-url", help="default: a fresh SQLite file")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        ms = run(url, args.hires)
    print(f"ledger CPU per hire: {ms:.2f} ms ({args.hires} hires, claim + 4 commits)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
