"""Issue 4.3: under 5xx, stalls, lost responses and tight rate limits, repeated cycles bring every
hire to `done` exactly once, and pacing below HiBob's advertised limits avoids 429s.

And, fast (no kill, one hire): a comment Pinpoint applied but whose answer was lost, or stalled
past the read timeout, is found on the next attempt and adopted, not posted a second time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.e2e.harness import make_poller
from tests.reliability.harness import SEED, PollerCli, ledger_at, report, settle, tally

HIRES = 20
LIMIT = 120  # HiBob's per-minute limit per endpoint, advertised in X-RateLimit-* headers
PACE = 110  # the poller's client-side pacing, just below it
WRITES_LOSING_ANSWERS = {"POST /people", "POST /docs/people/{id}/shared"}
# Comments can be listed: after a comment whose answer was lost or stalled, the next attempt
# lists the application's comments and adopts the one it finds (the fast tests at the end).
# Here comments get plain 5xx only, which apply nothing: a stalled comment that lands only
# after the next attempt has looked can't be found by it, and this batch can't order the two.
# The CV file is fetched by HiBob, not by the poller.
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


# The client gives up on an answer after READ_TIMEOUT; a stalled POST lands after STALL.
READ_TIMEOUT = 1.0
STALL = 1.5


def _wait_for_comment(sb: Sandbox, app: str, timeout: float = 10.0) -> None:
    """Until the simulator has applied the comment (a stalled request applies it late)."""
    deadline = time.monotonic() + timeout
    while sb.audit().comments_per_application().get(app, 0) < 1:
        assert time.monotonic() < deadline, "the simulator never applied the comment"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "knobs",
    [
        pytest.param({"lose_rate": "always"}, id="answer-lost"),
        pytest.param({"stall_rate": "always", "stall_seconds": STALL}, id="answer-stalled"),
    ],
)
def test_a_comment_applied_without_an_answer_is_adopted_not_posted_again(
    db_url: str, tmp_path: Path, knobs: dict[str, object]
) -> None:
    with Sandbox(seed=SEED, hires=0) as sb:
        app = sb.pinpoint.add_hire("Cleo", "Mentz", "cleo.mentz@example.com", cv=None)
        sb.faults("pinpoint", "POST /comments", times=1, **knobs)
        p = make_poller(tmp_path, sb, db_url, {"http": {"read_timeout_seconds": READ_TIMEOUT}})
        try:
            first = p.run()  # the comment is applied, but the poller never hears so
            assert first.ok and first.outcomes == {"retry": 1}, first
            row = p.ledger.get(app)
            assert row is not None and row.state == "pending"
            assert row.comment_started_at is not None and row.pinpoint_comment_id is None
            _wait_for_comment(sb, app)

            second = p.run()
            assert second.ok and second.outcomes == {"done": 1}, second
            row = p.ledger.get(app)
            events = [(e.step, e.outcome, e.message or "") for e in p.ledger.events(app)]
        finally:
            p.close()
        audit = sb.audit()
        posted = [c for c in sb.pinpoint.comments.values() if c.application_id == app]
    assert audit.comments_per_application() == {app: 1}, "the comment was posted twice"
    assert audit.requests("pinpoint", "POST /comments") == 1
    assert row is not None and row.state == "done"
    assert row.pinpoint_comment_id == posted[0].id
    assert row.hibob_employee_id is not None and row.hibob_employee_id in posted[0].body_text
    assert ("comment", "adopted", f"comment {posted[0].id} was already posted") in events
