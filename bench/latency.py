"""Hire latency: from an application reaching the hired stage to its employee existing in HiBob.

    python -m bench.latency                       # 5 minutes, a hire every 5 s, interval 30 s
    python -m bench.latency --minutes 2 --every 3 --interval 30

A trickle of hires goes into the Pinpoint simulator (a process of its own) while the real
`poller run` loop polls every `--interval` seconds. A hire's latency is the time from the
moment it was added in a hired stage (the bench's wall clock, just after the simulator said
so) to the moment HiBob's simulator created its employee (the simulator's clock, brought to
the wall clock by the offset measured once). The poller finds a hire at the next cycle after
it was hired, so the latency is about uniform over one interval plus the time to process it:
the target is p99 <= interval + 5 s. Prints p50, p99 and max beside the interval, and writes
bench/results/latency-latest.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pollerproc import POLLER, Databases, PollerSetup
from bench.simproc import SimProcess

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with p% of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def clock_offset(sim: SimProcess) -> float:
    """Simulation clock minus wall clock, in seconds (the control call's midpoint)."""
    before = time.time()
    now = datetime.fromisoformat(sim._control("pinpoint", "/clock", {"advance": 0})["now"])
    after = time.time()
    return now.timestamp() - (before + after) / 2


def run(
    minutes: float, every: float, interval: int, latency_ms: int, db_url: str | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="poller-latency-") as tmp, SimProcess(seed=7) as sim:
        workdir = Path(tmp)
        dbs = Databases(workdir, db_url)
        sim.set_latency(latency_ms)
        setup = PollerSetup(
            sim,
            dbs.fresh("latency"),
            workdir,
            {
                "schedule": {"interval_seconds": interval},
                "discovery": {"backfill_since": "1970-01-01T00:00:00Z"},
            },
        )
        loop = subprocess.Popen(
            [str(POLLER), "run"],
            env=setup.env(),
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        hired: dict[str, float] = {}  # email -> wall time it was hired
        try:
            time.sleep(2)  # the loop's first cycle (an empty table) runs at start
            offset = clock_offset(sim)
            count = int(minutes * 60 / every)
            start = time.monotonic()
            for i in range(count):
                email = f"latency.hire{i}@example.com"
                sim._control(
                    "pinpoint",
                    "/hires",
                    {"hires": [{"first": "Latency", "last": f"Hire{i}", "email": email}]},
                )
                hired[email] = time.time()
                time.sleep(max(0.0, start + (i + 1) * every - time.monotonic()))
            deadline = time.monotonic() + interval + 60
            created: dict[str, float] = {}
            while time.monotonic() < deadline and len(created) < len(hired):
                time.sleep(1)
                for employee in sim._control("hibob", "/state")["employees"]:
                    if employee["email"] in hired and employee["created_at"]:
                        moment = datetime.fromisoformat(employee["created_at"])
                        created[employee["email"]] = moment.timestamp() - offset
        finally:
            loop.send_signal(signal.SIGTERM)
            try:
                loop.wait(timeout=30)
            except subprocess.TimeoutExpired:
                loop.kill()
            dbs.drop_all()
    latencies = [created[e] - hired[e] for e in hired if e in created]
    return {
        "hires": len(hired),
        "created": len(latencies),
        "interval_s": interval,
        "every_s": every,
        "minutes": minutes,
        "api_latency_ms": latency_ms,
        "p50_s": round(percentile(latencies, 50), 2) if latencies else None,
        "p99_s": round(percentile(latencies, 99), 2) if latencies else None,
        "max_s": round(max(latencies), 2) if latencies else None,
        "min_s": round(min(latencies), 2) if latencies else None,
        "target_p99_s": interval + 5,
        "latencies_s": [round(x, 3) for x in latencies],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=5.0, help="how long hires trickle in (5)")
    p.add_argument("--every", type=float, default=5.0, help="seconds between hires (5)")
    p.add_argument("--interval", type=int, default=30, help="schedule.interval_seconds (30)")
    p.add_argument("--latency-ms", type=int, default=50, help="added to every API request (50)")
    p.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    p.add_argument("--output", type=Path, default=RESULTS / "latency-latest.json")
    args = p.parse_args(argv)
    result = run(args.minutes, args.every, args.interval, args.latency_ms, args.database_url)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "command": " ".join(["python -m bench.latency", *(argv or sys.argv[1:])]),
        **result,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    met = result["p99_s"] is not None and result["p99_s"] <= result["target_p99_s"]
    print(
        f"hire latency over {result['created']}/{result['hires']} hires, a hire every "
        f"{args.every:g} s for {args.minutes:g} min, interval {args.interval} s, "
        f"{args.latency_ms} ms per request:\n"
        f"  p50 {result['p50_s']} s, p99 {result['p99_s']} s, max {result['max_s']} s "
        f"(target p99 <= interval + 5 s = {result['target_p99_s']} s: {'met' if met else 'MISSED'})"
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
