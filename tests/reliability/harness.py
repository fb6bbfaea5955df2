"""Drive the real `poller` CLI in subprocesses against in-process simulators, and judge the result.

The poller is always a separate process (so it can be SIGKILLed, or sent SIGTERM); the simulators
run in the test process (`Sandbox`), whose audit tells what really reached "HiBob" and "Pinpoint".
Verdicts come from that audit, from the simulators' state and from the ledger's rows and history.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from poller.models import Record
from poller.sandbox import Sandbox
from poller.store.ledger import Ledger
from tests.e2e.harness import write_config
from tests.support.config import merged, secrets_env

POLLER = str(Path(sys.executable).with_name("poller"))  # this venv's console script
SEED = int(os.environ.get("POLLER_TEST_SEED", "1234"))
EXISTING_CV = b"%PDF-1.4 existing CV\n%%EOF\n"

# Read at import: the autouse clean_env fixture strips POLLER_* variables before each test.
RECORD = os.environ.get("POLLER_RECORD_RESULTS") == "1"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "reliability.json"
RUN_TIMEOUT = 60.0

# Short leases so a rerun can take over a killed worker's row; waits shortened; no pacing.
BASE: dict[str, dict[str, Any]] = {
    "hibob": {
        "create_per_minute": 0,
        "search_per_minute": 0,
        "lookup_wait_seconds": 3,
        "lookup_interval_seconds": 0.25,
    },
    "worker": {"concurrency": 4, "lease_seconds": 1, "max_attempts": 10, "retry_base_seconds": 0},
    "logging": {"level": "WARNING", "format": "json"},
}


@dataclass
class Run:
    """One finished `poller` process."""

    pid: int
    returncode: int
    stdout: str
    stderr: str
    crash_at: str | None = None
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def summary(self) -> dict[str, Any]:
        """The cycle summary (the JSON line `run --once` prints), or {} if there is none."""
        for line in self.stdout.splitlines():
            if line.startswith("{") and '"cycle.summary"' in line:
                data: dict[str, Any] = json.loads(line)
                return data
        return {}

    def describe(self) -> str:
        return f"pid {self.pid} rc {self.returncode}, stderr tail: {self.stderr[-1500:]}"


class PollerCli:
    """`poller --config X ...` for one sandbox and one database, secrets in the environment."""

    def __init__(
        self,
        tmp_path: Path,
        sb: Sandbox,
        db_url: str,
        extra: dict[str, dict[str, Any]] | None = None,
        name: str = "config.toml",
        *,
        env: dict[str, str] | None = None,
    ) -> None:
        self.db_url = db_url
        self.config = write_config(tmp_path / name, sb, db_url, merged(BASE, extra or {}))
        self._env = {**os.environ, **secrets_env(sb), **(env or {})}
        self._env.pop("POLLER_CRASH_AT", None)

    def start(self, *args: str, crash_at: str | None = None) -> subprocess.Popen[str]:
        env = dict(self._env)
        if crash_at:
            env["POLLER_CRASH_AT"] = crash_at
        return subprocess.Popen(
            [POLLER, "--config", str(self.config), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_live(
        self, *args: str, marker: str, crash_at: str | None = None, log_level: str = "INFO"
    ) -> LiveRun:
        """Start with logs at `log_level` and watch them for `marker` (e.g. an event name)."""
        env = dict(self._env, POLLER_LOGGING__LEVEL=log_level, POLLER_LOGGING__FORMAT="json")
        if crash_at:
            env["POLLER_CRASH_AT"] = crash_at
        proc = subprocess.Popen(
            [POLLER, "--config", str(self.config), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return LiveRun(proc, marker, crash_at)

    def run(self, *args: str, crash_at: str | None = None, timeout: float = RUN_TIMEOUT) -> Run:
        started = time.monotonic()
        return finish(self.start(*args, crash_at=crash_at), timeout, crash_at, started)

    def once(self, crash_at: str | None = None, timeout: float = RUN_TIMEOUT) -> Run:
        return self.run("run", "--once", crash_at=crash_at, timeout=timeout)

    def list_rows(self) -> list[dict[str, Any]]:
        """`poller list --format json --limit 0`, as a person would look."""
        run = self.run("list", "--format", "json", "--limit", "0")
        assert run.returncode == 0, run.describe()
        rows: list[dict[str, Any]] = json.loads(run.stdout)
        return rows


def finish(
    proc: subprocess.Popen[str],
    timeout: float = RUN_TIMEOUT,
    crash_at: str | None = None,
    started: float | None = None,
) -> Run:
    """Wait for a poller process (bounded); a hung one is killed and fails the test."""
    started = time.monotonic() if started is None else started
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        message = f"poller pid {proc.pid} still running after {timeout}s: {err[-1500:]}"
        raise AssertionError(message) from None
    return Run(proc.pid, proc.returncode, out, err, crash_at, time.monotonic() - started)


class LiveRun:
    """A running poller whose output is read as it comes, to act on what it says it is doing
    (a wall-clock timer alone would, on a loaded CI box, often fire before the work starts)."""

    def __init__(self, proc: subprocess.Popen[str], marker: str, crash_at: str | None) -> None:
        self.proc = proc
        self.crash_at = crash_at
        self.started = time.monotonic()
        self.marked = threading.Event()
        self._marker = marker
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(proc.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)
            if self._marker in line:
                self.marked.set()
        stream.close()

    def wait_marker(self, timeout: float = RUN_TIMEOUT) -> bool:
        """True once the marker was logged; False if the process ended first."""
        deadline = time.monotonic() + timeout
        while not self.marked.wait(0.02):
            if self.proc.poll() is not None:
                return self.marked.is_set()
            assert time.monotonic() < deadline, f"no {self._marker} from pid {self.proc.pid}"
        return True

    def wait(self, timeout: float = RUN_TIMEOUT) -> Run:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            message = f"poller pid {self.proc.pid} still running after {timeout}s"
            raise AssertionError(message) from None
        for reader in self._readers:
            reader.join(timeout=10)
        return Run(
            self.proc.pid,
            self.proc.returncode,
            "".join(self._out),
            "".join(self._err),
            self.crash_at,
            time.monotonic() - self.started,
        )


def employee_with_cv(sb: Sandbox, first: str, last: str, email: str) -> str:
    """A person already in HiBob whose shared folder already holds their CV, named as the
    poller would name it. Returns the employee id."""
    employee = sb.hibob.add_employee(first, last, email)
    sb.hibob.add_document(
        employee,
        folder="shared",
        name=f"CV - {first} {last}.pdf",
        tags=["CV"],
        content=EXISTING_CV,
        content_type="application/pdf",
        source="upload",
    )
    return employee


@contextmanager
def ledger_at(db_url: str) -> Iterator[Ledger]:
    ledger = Ledger(db_url, pool_size=2)
    try:
        yield ledger
    finally:
        ledger.dispose()


def wait_until_due(ledger: Ledger, limit: float = 15.0, *, settling: bool = True) -> None:
    """Wait out the leases of killed workers and the retry times of rescheduled rows.

    Computed from the rows themselves, not guessed; bounded by `limit`.
    """
    now = datetime.now(UTC)
    times = [
        r.lease_expires_at if r.state == "in_progress" else r.next_attempt_at
        for r in ledger.rows(limit=0)
        if r.state in ("pending", "in_progress") or (settling and r.state == "settling")
    ]
    due = [_aware(t) for t in times if t is not None]
    if due:
        wait = (max(due) - now).total_seconds() + 0.05
        assert wait <= limit, f"a row is not due for {wait:.1f}s"
        if wait > 0:
            time.sleep(wait)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def settle(cli: PollerCli, ledger: Ledger, max_runs: int = 12) -> list[Run]:
    """Run `poller run --once` (each exiting 0) until no row is pending or in progress."""
    runs: list[Run] = []
    for _ in range(max_runs):
        run = cli.once()
        runs.append(run)
        assert run.returncode == 0, run.describe()
        counts = ledger.counts()
        if counts["pending"] == counts["in_progress"] == counts["settling"] == 0:
            return runs
        wait_until_due(ledger)
    raise AssertionError(f"not settled after {max_runs} runs: {ledger.counts()}")


def worker_pid(worker: str | None) -> int | None:
    """Workers are named "host:pid:nonce/index" (poller.cycle.PROCESS_ID)."""
    if not worker:
        return None
    try:
        return int(worker.rsplit("/", 1)[0].split(":")[-2])
    except (IndexError, ValueError):
        return None


@dataclass
class Tally:
    """What the simulators and the ledger say about a batch, after the dust settled."""

    hires: int
    lost: list[str] = field(default_factory=list)  # hires not `done`
    duplicate_employees: int = 0
    duplicate_documents: int = 0
    duplicate_comments: dict[str, int] = field(default_factory=dict)  # app -> extra comments
    missing: list[str] = field(default_factory=list)  # done, but an upstream effect is absent
    rate_limited: int = 0

    @property
    def duplicate_comment_total(self) -> int:
        return sum(self.duplicate_comments.values())


def tally(sb: Sandbox, ledger: Ledger, hire_ids: list[str]) -> Tally:
    """Exactly-once verdicts for `hire_ids` from the audit, HiBob's state and the ledger."""
    audit = sb.audit()
    rows = {r.application_id: r for r in ledger.rows(limit=0)}
    result = Tally(hires=len(hire_ids), rate_limited=audit.rate_limited())
    result.duplicate_employees = sum(n - 1 for n in audit.employees_created_per_email().values())
    comments = audit.comments_per_application()
    for app_id in hire_ids:
        row = rows.get(app_id)
        if row is None or row.state != "done":
            result.lost.append(app_id)
            continue
        extra = comments.get(app_id, 0) - 1
        if extra > 0:
            result.duplicate_comments[app_id] = extra
        result.missing += _missing_effects(sb, row, comments.get(app_id, 0))
    for employee_id in {r.hibob_employee_id for r in rows.values() if r.hibob_employee_id}:
        result.duplicate_documents += max(0, len(sb.hibob.documents_of(employee_id)) - 1)
    return result


def _missing_effects(sb: Sandbox, row: Record, comments: int) -> list[str]:
    """A `done` row must name the employee HiBob holds for its email, its CV, and a comment."""
    problems = []
    employee = sb.hibob.find_employee(row.email or "")
    if employee is None or employee.id != row.hibob_employee_id:
        problems.append(f"{row.application_id}: employee {row.hibob_employee_id} is not HiBob's")
    docs = sb.hibob.documents_of(row.hibob_employee_id or "")
    if row.cv_status in ("uploaded", "already_there") and not docs:
        problems.append(f"{row.application_id}: cv_status {row.cv_status} but no document")
    if row.cv_status == "none" and docs:
        problems.append(f"{row.application_id}: cv_status none but a document")
    if comments < 1 or row.pinpoint_comment_id is None:
        problems.append(f"{row.application_id}: no comment")
    return problems


def report(name: str, **numbers: Any) -> None:
    """One summary line (visible with `pytest -s`); appended to bench/results/reliability.json
    when POLLER_RECORD_RESULTS=1."""
    print(f"\nRELIABILITY {name}: " + " ".join(f"{k}={v}" for k, v in numbers.items()))
    if not RECORD:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append({"suite": name, "at": datetime.now(UTC).isoformat(), "seed": SEED, **numbers})
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")


# Every crash point of the flow (grep poller/ for `crashpoint(`), by the stage a row is at.
CRASH_POINTS_BY_STAGE = {
    "discover": ["after:list", "checkpoint:discover", "checkpoint:watermark"],
    "employee": [
        "after:fetch",
        "checkpoint:map:mapped",
        "checkpoint:employee:create_started",
        "after:create",
        "checkpoint:employee:created",
        "after:search",
        "checkpoint:employee:linked_existing",
    ],
    "cv": [
        "after:doc_list",
        "checkpoint:cv:started",
        "after:doc_upload",
        "checkpoint:cv:uploaded",
        "checkpoint:cv:already_there",
        "checkpoint:cv:none",
    ],
    "comment": ["checkpoint:comment:started", "after:comment", "checkpoint:comment:done"],
}
