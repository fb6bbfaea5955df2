"""Issue 4.3: under 5xx, stalls, lost responses and tight rate limits, repeated cycles bring every
hire to `done` exactly once, and pacing below HiBob's advertised limits avoids 429s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.reliability.harness import SEED, PollerCli, ledger_at, report, settle, tally

HIRES = 20
LIMIT = 120  # HiBob's per-minute limit per endpoint, advertised in X-RateLimit-* headers
PACE = 110  # the poller's client-side pacing, just below it
WRITES_LOSING_ANSWERS = {"POST /people", "POST /docs/people/{id}/shared"}
# Pinpoint can't list comments, so a comment whose answer is lost (or stalled past the read
# timeout) is posted again by design; comments get plain 5xx only, which apply nothing. The CV
# file is fetched by HiBob, not by the poller.
NO_STALLS = {"POST /comments", "GET /files/{token}/{filename}"}


def _inject(sb: Sandbox) -> None:
    for api, sim in (("pinpoint", sb.pinpoint), ("hibob", sb.hibob)):
        for endpoint in sorted(sim.faults.endpoints):
            if endpoint == "GET /files/{token}/{filename}":
                continue
            knobs: dict[str, object] = {"error_rate": 0.2}
            if endpoint not in NO_STALLS:
                knobs |= {"stall_rate": 0.05, "stall_seconds": 1.5}
            if endpoint in WRITES_LOSING_ANSWERS:
                knobs["lose_rate"] = 0.15
            sb.faults(api, endpoint, **knobs)
    for endpoint in (
        "POST /people",
        "POST /people/search",
        "GET /docs/people/{id}",
        "POST /docs/people/{id}/shared",
    ):
        sb.hibob.set_rate_limit(endpoint, LIMIT)


@pytest.mark.slow
def test_faults_and_tight_limits_still_end_with_every_hire_done_once(
    db_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    with Sandbox(seed=SEED, hires=0) as sb:
        hires = sb.pinpoint.seed_hires(HIRES - 3)
        hires += [sb.pinpoint.add_hire("Nocv", "Hire", "nocv@example.com", cv=None)]
        for i in (1, 2):
            sb.hibob.add_employee(f"Known{i}", "Person", f"known{i}@example.com")
            hires.append(sb.pinpoint.add_hire(f"Known{i}", "Person", f"known{i}@example.com"))
        _inject(sb)
        cli = PollerCli(
            tmp_path,
            sb,
            db_url,
            {
                "http": {
                    "connect_timeout_seconds": 1,
                    "read_timeout_seconds": 1,
                    "max_retries": 3,
                    "backoff_base_seconds": 0.05,
                    "backoff_max_seconds": 0.2,
                },
                "hibob": {
                    "create_per_minute": PACE,
                    "search_per_minute": PACE,
                    "documents_per_minute": PACE,
                    "lookup_wait_seconds": 2,  # a stalled create lands after 1.5 s
                    "lookup_interval_seconds": 0.5,
                },
                # Enough attempts that a row is never given up on by bad luck alone.
                "worker": {"lease_seconds": 30, "max_attempts": 25, "retry_base_seconds": 0},
            },
        )
        with ledger_at(db_url) as ledger:
            runs = settle(cli, ledger, max_runs=25)
            t = tally(sb, ledger, hires)
        audit = sb.audit()
    statuses = audit.statuses()
    report(
        "upstream_faults",
        db=db_url.split(":", 1)[0],
        hires=HIRES,
        cycles=len(runs),
        requests=audit.requests(),
        status_5xx=sum(n for s, n in statuses.items() if s >= 500),
        rate_limited_429=t.rate_limited,
        duplicate_employees=t.duplicate_employees,
        duplicate_documents=t.duplicate_documents,
        duplicate_comments=t.duplicate_comment_total,
        hires_lost=len(t.lost),
        seconds=round(time.monotonic() - started, 1),
    )
    assert statuses.get(502, 0) > 0 and statuses.get(503, 0) > 0, "the faults did not fire"
    assert t.lost == [] and t.missing == []
    assert (t.duplicate_employees, t.duplicate_documents, t.duplicate_comment_total) == (0, 0, 0)
    assert sorted(audit.employees_created_per_email().values()) == [1] * (HIRES - 2)
    assert t.rate_limited == 0, "pacing below the advertised limit should avoid every 429"
