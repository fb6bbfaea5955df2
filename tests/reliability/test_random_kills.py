"""Issue 4.1, randomized: at least 50 SIGKILLs at random moments over a batch of 30 hires.

Three `poller run --once` processes run at a time on one database, each killed either at a
random crash point on its Nth pass (POLLER_CRASH_AT=point@N; the point is drawn among the steps
the due rows are at, so that it is reached) or by a timer after a random delay. Then runs go on,
unkilled, until every row is settled. Seeded by POLLER_TEST_SEED (default 1234).

Verdict: every hire `done`, no employee, document or comment twice. A comment posted just before
a kill is found in the application's comments by the rerun, not posted again.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poller.models import Record
from poller.sandbox import Sandbox
from poller.store.ledger import Ledger
from tests.reliability.harness import (
    CRASH_POINTS_BY_STAGE,
    SEED,
    LiveRun,
    PollerCli,
    Run,
    employee_with_cv,
    ledger_at,
    report,
    settle,
    tally,
)

KILLS = 50
HIRES = 30
PARALLEL = 3


@dataclass
class Kill:
    pid: int
    how: str  # the crash point ("point@N"), or "timer"


def _world(sb: Sandbox) -> list[str]:
    """30 hires: most new with a CV, some without, some already in HiBob (one with the CV)."""
    ids = sb.pinpoint.seed_hires(HIRES - 6)
    ids += [
        sb.pinpoint.add_hire(f"Nocv{i}", "Hire", f"nocv{i}@example.com", cv=None) for i in (1, 2, 3)
    ]
    for i in (1, 2, 3):
        if i == 1:
            employee_with_cv(sb, f"Known{i}", "Person", f"known{i}@example.com")
        else:
            sb.hibob.add_employee(f"Known{i}", "Person", f"known{i}@example.com")
        ids.append(sb.pinpoint.add_hire(f"Known{i}", "Person", f"known{i}@example.com"))
    return ids


def _stage(row: Record) -> str:
    if row.hibob_employee_id is None:
        return "employee"
    return "cv" if row.cv_status is None else "comment"


@dataclass
class Slot:
    """A run to be killed: at a random crash point its rows will reach (most runs), and in any
    case by a timer, a random delay after its discovery, so that no run gets through the batch
    unkilled. The delay counts from the run's own log line: start-up time varies with the load."""

    live: LiveRun
    delay: float
    deadline: float | None = None
    timer_fired: bool = False

    @classmethod
    def launch(cls, cli: PollerCli, rng: random.Random, due: list[Record]) -> Slot:
        spec, delay = None, rng.uniform(0.05, 0.5)
        if due and rng.random() < 0.6:
            stages = [_stage(r) for r in due]
            stage = rng.choice([*stages, "discover"])
            top = min(2, stages.count(stage)) if stage != "discover" else 1
            spec = f"{rng.choice(CRASH_POINTS_BY_STAGE[stage])}@{rng.randint(1, max(1, top))}"
            delay = rng.uniform(0.8, 1.5)  # a backstop: the crash point should come first
        live = cli.start_live("run", "--once", marker='"discovery.done"', crash_at=spec)
        return cls(live, delay)

    def tick(self) -> bool:
        """Arm or fire the timer; True once the process has ended."""
        if self.live.proc.poll() is not None:
            return True
        now = time.monotonic()
        if self.deadline is None and self.live.marked.is_set():
            self.deadline = now + self.delay
        if self.deadline is not None and now >= self.deadline:
            self.live.proc.kill()  # SIGKILL at a random moment
            self.timer_fired = True
        assert now - self.live.started < 60, f"pid {self.live.proc.pid} never got going"
        return False

    def how(self) -> str:
        return "timer" if self.timer_fired else self.live.crash_at or "-"


def _due(ledger: Ledger) -> list[Record]:
    now = datetime.now(UTC)
    return [
        r
        for r in ledger.rows(limit=0)
        if r.state == "pending"
        or (r.state == "in_progress" and r.lease_expires_at and _aware(r.lease_expires_at) < now)
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.mark.slow
def test_fifty_random_kills_over_thirty_hires(db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    rng = random.Random(f"{SEED}:random-kills")
    with Sandbox(seed=SEED, hires=0) as sb:
        hires = _world(sb)
        for api in ("pinpoint", "hibob"):  # slow enough that kills land mid-batch
            sb.faults(api, "*", latency_ms=150)
        cli = PollerCli(tmp_path, sb, db_url, {"worker": {"lease_seconds": 3, "concurrency": 1}})
        kills: list[Kill] = []
        runs: list[Run] = []
        with ledger_at(db_url) as ledger:
            ledger.migrate()  # so the rows can be read between kills from the start
            slots: list[Slot] = []
            while True:
                for slot in [s for s in slots if s.tick()]:
                    slots.remove(slot)
                    run = slot.live.wait()
                    runs.append(run)
                    if run.killed:
                        kills.append(Kill(run.pid, slot.how()))
                    else:
                        assert run.returncode == 0, run.describe()
                assert len(runs) < 4 * KILLS, "kills don't land: check the crash points"
                counts = ledger.counts()
                batch_done = counts["done"] + counts["failed"] == HIRES
                if (batch_done or len(kills) >= KILLS) and not slots:
                    done_when_kills_stopped = counts["done"]
                    break
                due = _due(ledger)
                wanted = not batch_done and len(kills) + len(slots) < KILLS
                if wanted and len(slots) < PARALLEL and (due or not any(counts.values())):
                    slots.append(Slot.launch(cli, rng, due))
                time.sleep(0.02)  # a poll tick; the kills themselves are event-driven
            sb.reset_faults()
            killed_runs = len(runs)
            final = settle(cli, ledger)
            t = tally(sb, ledger, hires)
            adopted = sum(
                e.step == "comment" and e.outcome == "adopted"
                for app in hires
                for e in ledger.events(app)
            )
    at_comment = sum(k.how.startswith("after:comment") for k in kills)
    report(
        "random_kills",
        db=db_url.split(":", 1)[0],
        seed=SEED,
        hires=HIRES,
        kills=len(kills),
        kills_after_comment=at_comment,
        kills_by_timer=sum(k.how.startswith("timer") for k in kills),
        done_when_kills_stopped=done_when_kills_stopped,
        runs=killed_runs + len(final),
        duplicate_employees=t.duplicate_employees,
        duplicate_documents=t.duplicate_documents,
        duplicate_comments=t.duplicate_comment_total,
        comments_found_after_a_kill=adopted,
        hires_lost=len(t.lost),
        rate_limited_429=t.rate_limited,
        seconds=round(time.monotonic() - started, 1),
    )
    assert len(kills) >= KILLS
    assert t.lost == [] and t.missing == []
    assert t.duplicate_employees == 0
    assert t.duplicate_documents == 0
    assert t.duplicate_comment_total == 0, t.duplicate_comments
