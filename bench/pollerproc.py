"""Running the real `poller` command as a child, with its CPU time and peak RSS (os.wait4).

Also the bench's databases: an SQLite file per measurement by default, or, with
--database-url, a PostgreSQL database created per measurement on that server and dropped after.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.simproc import SimProcess
from poller.sandbox.data import MAPPING
from tests.support.config import clean_env, merged, toml_dumps

# The poller as deployments run it: the console script next to this interpreter.
POLLER = Path(sys.executable).with_name("poller")

BASE_CONFIG: dict[str, dict[str, Any]] = {
    # Client-side pacing is off (requests_per_second must be > 0: 1000 never binds); the
    # rate-limited scenario turns HiBob's create pacing back on.
    "pinpoint": {"requests_per_second": 1000},
    "hibob": {"create_per_minute": 0, "search_per_minute": 0, "documents_per_minute": 0},
    "worker": {"concurrency": 4},
    "mapping": dict(MAPPING),
    "server": {"port": 0},
    "logging": {"level": "WARNING", "format": "json"},
}


@dataclass
class ProcResult:
    code: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kb: int
    stdout: str
    stderr: str

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def summary(self) -> dict[str, Any]:
        """The cycle summary `poller run --once` prints as its last stdout line."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                data: dict[str, Any] = json.loads(line)
                return data
        raise RuntimeError(f"no cycle summary (exit {self.code}): {self.stderr[-2000:]}")


def run_measured(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> ProcResult:
    """Run argv to completion (killed after `timeout` seconds); wall time and its rusage."""
    out_path, err_path = cwd / f"out-{uuid.uuid4().hex}.txt", cwd / f"err-{uuid.uuid4().hex}.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        # A pidfd turns "wait, but not forever" into a select() with no kill-a-reused-pid race.
        pidfd = os.pidfd_open(proc.pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
            if not ready:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            os.close(pidfd)
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    result = ProcResult(
        code=proc.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        maxrss_kb=usage.ru_maxrss,  # kilobytes on Linux
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )
    out_path.unlink()
    err_path.unlink()
    if not ready:
        raise TimeoutError(f"{' '.join(argv[1:])} did not finish within {timeout:g}s")
    return result


@dataclass
class PollerSetup:
    """A config file for one simulator pair and one database, and how to run the poller on it."""

    sim: SimProcess
    db_url: str
    workdir: Path
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        config = merged(BASE_CONFIG, self.extra)
        config = merged(
            config,
            {
                "pinpoint": {"base_url": self.sim.info["pinpoint_url"]},
                "hibob": {"base_url": self.sim.info["hibob_url"]},
                "database": {"url": self.db_url},
            },
        )
        self.config_path = self.workdir / f"config-{uuid.uuid4().hex[:8]}.toml"
        self.config_path.write_text(toml_dumps(config))

    def env(self, overrides: dict[str, str] | None = None) -> dict[str, str]:
        env = {"POLLER_CONFIG": str(self.config_path), **self.sim.env}
        return clean_env(env | (overrides or {}))

    def run_once(
        self, *, timeout: float, overrides: dict[str, str] | None = None
    ) -> tuple[ProcResult, dict[str, Any]]:
        """`poller run --once`; its rusage and its cycle summary. A failed cycle raises."""
        result = run_measured(
            [str(POLLER), "run", "--once"],
            env=self.env(overrides),
            cwd=self.workdir,
            timeout=timeout,
        )
        summary = result.summary()
        if result.code != 0 or summary.get("outcome") != "ok":
            raise RuntimeError(f"poller run --once failed ({result.code}): {summary.get('error')}")
        return result, summary


class Databases:
    """One fresh database per measurement: an SQLite file, or a PostgreSQL database."""

    def __init__(self, workdir: Path, server_url: str | None) -> None:
        self.workdir = workdir
        self.server_url = server_url
        self._created: list[str] = []

    @property
    def kind(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def fresh(self, label: str) -> str:
        name = f"poller_bench_{label}_{uuid.uuid4().hex[:8]}"
        if self.server_url is None:
            return f"sqlite:///{self.workdir / name}.db"
        with self._admin() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        from sqlalchemy.engine import make_url

        from poller.db_url import normalise_url

        url = make_url(normalise_url(self.server_url)).set(database=name)
        return url.render_as_string(hide_password=False)

    def _admin(self) -> Any:
        from sqlalchemy import create_engine

        from poller.db_url import normalise_url

        assert self.server_url is not None
        engine = create_engine(normalise_url(self.server_url), isolation_level="AUTOCOMMIT")
        return engine.connect()

    def drop_all(self) -> None:
        if not self._created:
            return
        with self._admin() as conn:
            for name in self._created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()
