"""The simulators in a process of their own, driven over their /_sandbox/ control plane.

The poller under test and the simulators must not share a GIL (or a CPU-time account): the
bench starts `python -m poller.sandbox` as a child, reads its one JSON line, and talks to it
over loopback HTTP only.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from tests.support.config import clean_env

START_TIMEOUT_S = 60.0  # seeding 10,000 hires at start-up takes a few seconds
STOP_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 60.0
HIRES_PER_POST = 2000  # keeps each control request body around a few hundred kB


class SimProcess:
    """`python -m poller.sandbox` on free loopback ports; stopped (TERM, then KILL) on exit."""

    def __init__(self, *, seed: int = 1, hires: int = 0) -> None:
        self.seed = seed
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "poller.sandbox",
                "--pinpoint-port",
                "0",
                "--hibob-port",
                "0",
                "--seed",
                str(seed),
                "--hires",
                str(hires),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
        )
        try:
            self.info: dict[str, Any] = json.loads(self._first_line(START_TIMEOUT_S))
        except BaseException:
            self.stop()
            raise

    def _first_line(self, timeout: float) -> str:
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"the sandbox printed nothing within {timeout:g}s")
        line = self._proc.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"the sandbox exited early (code {self._proc.poll()})")
        return line

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_TIMEOUT_S)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    # -- credentials -------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """The secrets, as the poller reads them."""
        return {
            "PINPOINT_API_KEY": self.info["pinpoint_api_key"],
            "HIBOB_BASE64_TOKEN": self.info["hibob_token"],
        }

    # -- control plane -----------------------------------------------------------------------
    def _control(self, api: str, path: str, body: object | None = None) -> Any:
        base = self.info[f"{api}_control"]
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - a loopback http URL the sandbox printed
            base + path,
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=CONTROL_TIMEOUT_S) as resp:  # noqa: S310
            return json.loads(resp.read())

    def set_latency(self, latency_ms: int) -> None:
        """Every API request on both simulators waits this long (the "*" fault rule)."""
        for api in ("pinpoint", "hibob"):
            if latency_ms > 0:
                self._control(api, "/faults", {"endpoint": "*", "latency_ms": latency_ms})
            else:
                self._control(api, "/reset-faults", {})

    def set_rate_limits(self, api: str, limits: dict[str, int]) -> None:
        """{"POST /people": 120}; 0 removes a limit."""
        self._control(api, "/config", {"rate_limits": limits})

    def add_fresh_hires(self, count: int) -> list[str]:
        """`count` hires updated now, each with a PDF CV."""
        ids: list[str] = []
        while len(ids) < count:
            n = min(HIRES_PER_POST, count - len(ids))
            ids += self._control("pinpoint", "/hires", {"count": n})["ids"]
        return ids

    def add_old_hires(self, count: int, *, age: timedelta) -> list[str]:
        """`count` hires last updated `age` ago (and a second apart), each with a PDF CV."""
        start = datetime.now().astimezone() - age
        ids: list[str] = []
        while len(ids) < count:
            specs = [
                {
                    "first": "Bench",
                    "last": f"Hire{i}",
                    "email": f"bench.hire{i}@example.com",
                    "updated_at": (start - timedelta(seconds=i)).isoformat(),
                }
                for i in range(len(ids), min(count, len(ids) + HIRES_PER_POST))
            ]
            ids += self._control("pinpoint", "/hires", {"hires": specs})["ids"]
        return ids

    def configure(self, api: str, settings: dict[str, Any]) -> None:
        self._control(api, "/config", settings)

    def add_offer(self, application_id: str, start_on: str, status: str = "accepted") -> None:
        """An offer on the application (an accepted one moves its start date)."""
        body = {"application_id": application_id, "start_on": start_on, "status": status}
        self._control("pinpoint", "/offers", body)

    def edit_candidate(self, application_id: str, **fields: str) -> None:
        """first_name, last_name or email, as a recruiter's correction in Pinpoint."""
        self._control("pinpoint", "/candidate", {"application_id": application_id, **fields})

    def reset_audit(self) -> None:
        self._control("pinpoint", "/reset-audit", {})

    def audit(self, log_limit: int = 0) -> dict[str, Any]:
        """Counts (one audit shared by both simulators), and the last `log_limit` requests."""
        result: dict[str, Any] = self._control("pinpoint", f"/audit?limit={log_limit}")
        return result
