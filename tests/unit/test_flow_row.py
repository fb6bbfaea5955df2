"""How a claimed row ends when a step can't go on: rescheduled with a bounded, jittered,
doubling wait (or the server's, when it asked for longer), or failed with a reason and, when
asked, an event for the people who act. The ledger is a stand-in that records each commit."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from poller import metrics
from poller.config import Settings, WorkerSettings
from poller.errors import RateLimited, RetryableError
from poller.flow.row import Row, fail, reschedule
from poller.models import Outcome, Record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(attempts: int) -> Record:
    values: dict[str, Any] = {f.name: None for f in fields(Record)}
    values.update(
        application_id="8863902",
        state="in_progress",
        attempts=attempts,
        created_at=NOW,
        updated_at=NOW,
    )
    return Record(**values)


@dataclass
class Commits:
    calls: list[dict[str, Any]] = field(default_factory=list)

    def checkpoint(self, app_id: str, worker: str, **kw: Any) -> None:
        self.calls.append({"app_id": app_id, "worker": worker, **kw})


class Jitter(random.Random):
    """Records the bounds asked for, and answers the factor set."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return self.factor


@dataclass
class Svc:
    settings: Settings
    ledger: Commits
    rng: random.Random
    notify: frozenset[str] = frozenset()

    def clock(self) -> datetime:
        return NOW


def row(
    attempts: int, *, factor: float = 1.0, notify: frozenset[str] = frozenset(), **worker: Any
) -> tuple[Row, Svc]:
    cfg = {"max_attempts": 3, "retry_base_seconds": 30, "retry_max_seconds": 3600, **worker}
    svc = Svc(Settings(worker=WorkerSettings(**cfg)), Commits(), Jitter(factor), notify)
    r = Row(svc, record(attempts), "w1")  # type: ignore[arg-type]
    r.step = "fetch"
    return r, svc


UPSTREAM = RetryableError("HiBob answered 503", api="hibob", endpoint="POST /people", status=503)


@pytest.mark.parametrize(
    ("attempts", "factor", "seconds"),
    [(1, 1.0, 30), (2, 1.0, 60), (2, 0.8, 48), (2, 1.2, 72)],
)
def test_a_retry_waits_the_base_doubling_each_attempt_jittered(
    attempts: int, factor: float, seconds: float
) -> None:
    r, svc = row(attempts, factor=factor)
    assert reschedule(r, UPSTREAM) is Outcome.RETRY
    (commit,) = svc.ledger.calls
    assert commit["next_attempt_at"] == NOW + timedelta(seconds=seconds)
    assert svc.rng.asked == [(0.8, 1.2)]  # type: ignore[attr-defined]
    text = "application 8863902, step fetch: " + str(UPSTREAM)
    assert (commit["step"], commit["outcome"], commit["message"]) == ("fetch", "retry", text)
    assert (commit["last_error"], commit["last_error_step"]) == (text, "fetch")
    assert (commit["state"], commit["claimed_by"], commit["lease_expires_at"]) == (
        "pending",
        None,
        None,
    )
    assert commit["completed_at"] is None and commit["notify"] is None


def test_the_wait_is_capped_and_a_server_asking_for_longer_wins() -> None:
    r, svc = row(2, retry_max_seconds=45)
    reschedule(r, UPSTREAM)
    assert svc.ledger.calls[0]["next_attempt_at"] == NOW + timedelta(seconds=45)
    r, svc = row(1)
    limited = RateLimited(
        "slow down", api="hibob", endpoint="POST /people", status=429, retry_after=500
    )
    reschedule(r, limited)
    assert svc.ledger.calls[0]["next_attempt_at"] == NOW + timedelta(seconds=500)
    r, svc = row(1)
    soon = RateLimited("slow down", api="hibob", endpoint="POST /people", status=429, retry_after=5)
    reschedule(r, soon)
    assert svc.ledger.calls[0]["next_attempt_at"] == NOW + timedelta(seconds=30)


def test_a_bug_is_named_by_its_type() -> None:
    r, svc = row(1)
    reschedule(r, ValueError("boom"))
    assert svc.ledger.calls[0]["last_error"] == "application 8863902, step fetch: ValueError: boom"


def failed() -> float:
    return metrics.REGISTRY.get_sample_value("poller_hires_total", {"outcome": "failed"}) or 0.0


@pytest.mark.parametrize("notify", [frozenset({"failed"}), frozenset()])
def test_the_last_attempt_fails_the_row_with_a_reason_and_tells_when_asked(
    notify: frozenset[str],
) -> None:
    r, svc = row(3, notify=notify)
    before = failed()
    assert reschedule(r, UPSTREAM) is Outcome.FAILED
    assert failed() - before == 1
    (commit,) = svc.ledger.calls
    text = f"gave up after 3 attempts; last error: application 8863902, step fetch: {UPSTREAM}"
    assert (commit["outcome"], commit["message"], commit["last_error"]) == ("failed", text, text)
    assert (commit["state"], commit["completed_at"], commit["next_attempt_at"]) == (
        "failed",
        NOW,
        None,
    )
    assert commit["last_error_step"] == "fetch"
    assert commit["notify"] == (("failed", text) if notify else None)


def test_fail_keeps_the_step_it_is_given_and_bounds_the_message() -> None:
    r, svc = row(1)
    assert fail(r, "x" * 5000, error_step="map", create_started_at=None) is Outcome.FAILED
    (commit,) = svc.ledger.calls
    assert commit["last_error"] == "x" * 2000 and commit["last_error_step"] == "map"
    assert (
        commit["create_started_at"] is None and commit["renew"] is False
        if "renew" in commit
        else True
    )
