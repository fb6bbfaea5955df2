"""What a row says when the flow stops early: the failure's reason and step, the withdrawn
re-check, and the bounded wait for HiBob's read lag. The ledger and HiBob are stand-ins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from poller.config import HiBobSettings, Settings
from poller.errors import AuthError, LeaseLost, MappingError, NotFound, PermanentError, StoreError
from poller.flow import steps
from poller.flow.row import Row, release
from poller.models import Application, Outcome
from tests.unit.test_flow_row import Commits, Jitter, record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class LaggingHibob:
    """Finds the employee only after ``misses`` searches."""

    misses: int
    searched: int = 0

    def find_by_email(self, email: str) -> str | None:
        self.searched += 1
        return "3397352260643062621" if self.searched > self.misses else None


@dataclass
class Svc:
    settings: Settings
    ledger: Commits = field(default_factory=Commits)
    hibob: Any = None
    rng: Any = field(default_factory=lambda: Jitter(1.0))
    notify: frozenset[str] = frozenset()
    slept: list[float] = field(default_factory=list)

    def clock(self) -> datetime:
        return NOW

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def make_row(step: str, **hibob: Any) -> tuple[Row, Svc]:
    svc = Svc(Settings(hibob=HiBobSettings(**hibob)))
    row = Row(svc, record(1), "w1")  # type: ignore[arg-type]
    row.step = step
    return row, svc


def test_a_mapping_failure_names_the_map_step() -> None:
    row, svc = make_row("map")
    exc = MappingError("email", "no email", "complete it in Pinpoint")
    assert steps._fail_for(row, exc) is Outcome.FAILED
    (commit,) = svc.ledger.calls
    assert commit["last_error"] == f"cannot map application 8863902: {exc}"
    assert commit["last_error_step"] == "map" and "create_started_at" not in commit


def test_not_found_says_which_side_lost_it() -> None:
    for api, what in (("pinpoint", "application"), ("hibob", "resource")):
        row, svc = make_row("cv")
        exc = NotFound("gone", api=api, endpoint="GET /x", status=404)
        steps._fail_for(row, exc)
        (commit,) = svc.ledger.calls
        assert commit["last_error"] == f"{what} not found upstream (application 8863902): {exc}"
        assert commit["last_error_step"] == "cv"


def test_a_refused_create_forgets_its_intent_other_steps_keep_theirs() -> None:
    refused = PermanentError("bad", api="hibob", endpoint="POST /people", status=400)
    row, svc = make_row("employee")
    steps._fail_for(row, refused)
    (commit,) = svc.ledger.calls
    assert commit["create_started_at"] is None  # nothing was created: a retry creates afresh
    assert commit["last_error"] == f"application 8863902, step employee: {refused}"
    row, svc = make_row("comment")
    steps._fail_for(row, refused)
    assert "create_started_at" not in svc.ledger.calls[0]


def test_withdrawn_says_where_it_went_and_writes_nothing_else() -> None:
    row, svc = make_row("fetch")
    app = Application(
        id="8863902",
        first_name="Mia",
        last_name="Click",
        email=None,
        phone=None,
        updated_at=NOW,
        job_id="17",
        job_title=None,
        department=None,
        location=None,
        offer_start_on=None,
        stage_name=None,
        stage_basic_type="interview",
    )
    assert steps._withdrawn(row, app) is Outcome.WITHDRAWN
    (commit,) = svc.ledger.calls
    assert (commit["state"], commit["outcome"], commit["withdrawn_stage"]) == (
        "withdrawn",
        "withdrawn",
        "interview",  # no stage name: its basic type
    )
    assert commit["candidate_name"] == "Mia Click"
    assert commit["last_error"] is None and commit["last_error_step"] is None
    assert commit["message"] == (
        "no longer in a hired stage (interview) when fetched, before anything was written; it "
        "is picked up again if it comes back to a hired stage"
    )
    long_name = Application(**{**app.__dict__, "stage_name": "S" * 500})
    row, svc = make_row("fetch")
    steps._withdrawn(row, long_name)
    assert (
        svc.ledger.calls[0]["withdrawn_stage"] == "S" * 199 + "…"
        or len(svc.ledger.calls[0]["withdrawn_stage"]) == 200
    )
    nameless = Application(**{**app.__dict__, "stage_name": None, "stage_basic_type": None})
    row, svc = make_row("fetch")
    steps._withdrawn(row, nameless)
    assert svc.ledger.calls[0]["withdrawn_stage"] == ""
    assert svc.ledger.calls[0]["message"].startswith("no longer in a hired stage () when")


@dataclass
class Releases(Commits):
    """Records each release; raises ``fails`` when it is set, as a store or a lost lease."""

    released: list[tuple[str, str, datetime, str]] = field(default_factory=list)
    fails: Exception | None = None

    def release(self, app_id: str, worker: str, *, now: datetime, note: str) -> None:
        if self.fails is not None:
            raise self.fails
        self.released.append((app_id, worker, now, note))


def test_a_row_a_stopped_cycle_leaves_is_given_back_with_why() -> None:
    """Bad credentials stop the cycle: the claimed row goes back (attempt refunded, by the
    ledger) with the reason, cut to 500 characters; a store that is down gets no write."""
    row, svc = make_row("employee")
    svc.ledger = Releases()
    refused = AuthError("x" * 600, api="hibob", endpoint="POST /people", status=401)
    release(row, refused)
    ((app_id, worker, now, note),) = svc.ledger.released
    assert (app_id, worker, now) == ("8863902", "w1", NOW)
    assert note == str(refused)[:500]
    assert len(note) == 500
    release(row, StoreError("the store is down"))  # nothing can be written: the lease runs out
    assert len(svc.ledger.released) == 1


@pytest.mark.parametrize(
    "fails", [StoreError("gone"), LeaseLost("another worker has it")], ids=["store", "lease"]
)
def test_a_release_that_cannot_be_written_is_let_go(fails: Exception) -> None:
    row, svc = make_row("employee")
    svc.ledger = Releases(fails=fails)
    release(row, AuthError("bad key", api="hibob", endpoint="POST /people", status=401))
    assert svc.ledger.released == []  # no raise: the lease expires and another run takes it


def test_the_search_waits_out_the_read_lag_then_gives_up() -> None:
    row, svc = make_row("employee", lookup_wait_seconds=30, lookup_interval_seconds=0.25)
    svc.hibob = LaggingHibob(misses=2)
    assert steps._find_by_email(row, "a@b.example") == "3397352260643062621"
    assert svc.hibob.searched == 3 and svc.slept == [0.25, 0.25]
    row, svc = make_row("employee", lookup_wait_seconds=0, lookup_interval_seconds=0.25)
    svc.hibob = LaggingHibob(misses=10)
    assert steps._find_by_email(row, "a@b.example") is None  # no wait: one search, no sleep
    assert svc.hibob.searched == 1 and svc.slept == []
