"""Benchmark the poller against the simulators (issue 7) and compare with the targets.

    python -m bench.run                 # the full run, ~15 minutes on 2 cores
    python -m bench.run --quick         # a smoke run, ~1 minute
    python -m bench.run --only quiet,cold --database-url postgresql://postgres@127.0.0.1/postgres

The simulators run in a child process (`python -m poller.sandbox`), the poller as the real
`poller run --once` command in another; every wait is bounded. Prints a table and writes
bench/results/latest.json. Targets are measured against, never asserted.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.pollerproc import Databases
from bench.scenarios import Options

SECTIONS = ("backlog", "rate", "quiet", "watch", "process", "cold")
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few hires, one run each: a smoke run")
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma list of sections (default all): {','.join(SECTIONS)}",
    )
    p.add_argument("--repeat", type=int, help="runs per cheap measurement (default 3)")
    p.add_argument(
        "--latency-ms",
        type=int,
        default=50,
        help="added to every API request on both simulators (default 50)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="worker.concurrency (default 4)")
    p.add_argument("--backlog-hires", type=int, help="default 500")
    p.add_argument(
        "--baseline-hires",
        type=int,
        help="hires for the concurrency-1 baseline, compared per hire (default 100)",
    )
    p.add_argument("--rate-hires", type=int, help="default 300")
    p.add_argument("--rate-limit", type=int, default=120, help="HiBob POST /people per minute")
    p.add_argument("--rate-pace", type=int, default=118, help="poller hibob.create_per_minute")
    p.add_argument("--rate-repeat", type=int, help="rate-limited runs (default 3, ~2.5 min each)")
    p.add_argument("--quiet-sizes", help="history sizes, comma list (default 1000,10000)")
    p.add_argument("--watch-hires", type=int, help="processed hires watched (default 1000)")
    p.add_argument(
        "--watch-changes", type=int, help="start dates moved, and surnames corrected (default 10)"
    )
    p.add_argument("--process-hires", type=int, help="default 2000")
    p.add_argument(
        "--process-latency-ms",
        type=int,
        default=50,
        help="latency for the CPU/RSS run (default 50, the budget's setting)",
    )
    p.add_argument(
        "--process-log-level",
        default="INFO",
        help="logging.level of the CPU/RSS run (default INFO, as shipped: the budget's setting)",
    )
    p.add_argument("--process-repeat", type=int, help="CPU/RSS runs (default 3)")
    p.add_argument("--cold-repeat", type=int, default=5)
    p.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; the bench creates (and "
        "drops) one database per measurement on it. Default: SQLite files",
    )
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        p.error(f"--only: unknown sections {', '.join(sorted(unknown))}")
    return args


def options(args: argparse.Namespace) -> Options:
    quick = args.quick

    def pick(value: int | None, full: int, smoke: int) -> int:
        return value if value is not None else (smoke if quick else full)

    sizes = args.quiet_sizes or ("200,1000" if quick else "1000,10000")
    return Options(
        latency_ms=args.latency_ms,
        repeat=pick(args.repeat, 3, 1),
        backlog_hires=pick(args.backlog_hires, 500, 100),
        baseline_hires=pick(args.baseline_hires, 100, 20),
        concurrency=args.concurrency,
        rate_hires=pick(args.rate_hires, 300, 40),
        rate_limit=args.rate_limit,
        rate_pace=args.rate_pace,
        rate_repeat=pick(args.rate_repeat, 3, 1),
        quiet_sizes=tuple(int(s) for s in sizes.split(",")),
        process_hires=pick(args.process_hires, 2000, 300),
        process_latency_ms=args.process_latency_ms,
        process_log_level=args.process_log_level.upper(),
        process_repeat=pick(args.process_repeat, 3, 1),
        cold_repeat=args.cold_repeat,
        watch_hires=pick(args.watch_hires, 1000, 100),
        watch_changes=pick(args.watch_changes, 10, 3),
    )


SOURCE_TREE = Path(__file__).resolve().parent.parent


def compile_package(root: Path = SOURCE_TREE) -> None:
    """Byte-compile the poller and its migrations in the source tree ``root`` (default this
    one), as pip does when it installs the wheel (the container's case). From a source
    checkout with PYTHONDONTWRITEBYTECODE set, as on the bench VM, every `poller` process
    would otherwise compile them again: about 80 ms of CPU per start, which the CPU-per-hire
    and cold-start figures would count."""
    for package in ("poller", "migrations"):
        compileall.compile_dir(root / package, quiet=1)


def speed_ns() -> float:
    """This machine's speed right now: best-of-5 ns for `sum((1,2,3))`, the same figure as
    `python3 -m timeit "sum((1,2,3))"`. The VM's speed drifts over hours (68 to 125 ns have
    been seen), and CPU figures move with it: each report keeps it, taken before and after."""
    return round(min(timeit.repeat("sum((1,2,3))", number=500_000, repeat=5)) / 500_000 * 1e9, 1)


def machine() -> dict[str, Any]:
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent,
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_head": git.stdout.strip() or None,
    }


# -- the table ---------------------------------------------------------------------------------
Row = tuple[str, str, str, str]  # measure, measured, target, verdict


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    if "backlog" in results:
        b = results["backlog"]
        out += [
            (
                f"backlog: wall time, {b['hires']} hires, concurrency {b['concurrency']}",
                f"{b['wall_s']:.1f} s ({b['hires_per_s']:.1f} hires/s)",
                "",
                "-",
            ),
            (
                "backlog: requests per hire (poller's)",
                f"{b['requests_per_hire']:.3f}",
                "<= 4.05",
                _verdict(b["requests_per_hire"] <= 4.05),
            ),
            (
                "backlog: requests per hire incl. HiBob's CV fetch",
                f"{b['requests_per_hire_incl_hibob_cv_fetch']:.3f}",
                "(info)",
                "-",
            ),
            (
                f"backlog: sequential baseline ({b['baseline_hires']} hires, concurrency 1)",
                f"{b['baseline_seconds_per_hire'] * 1000:.0f} ms/hire",
                "",
                "-",
            ),
            (
                "backlog: speed-up over the baseline",
                f"{b['speedup']:.2f}x",
                ">= 3x",
                _verdict(b["speedup"] >= 3),
            ),
        ]
    if "rate" in results:
        r = results["rate"]
        out += [
            (
                f"rate-limited: creates/min ({r['hires']} hires, "
                f"limit {r['limit_per_minute']}/min)",
                f"{r['creates_per_minute']:.1f} = {r['fraction_of_limit'] * 100:.1f}% of limit",
                ">= 90%",
                _verdict(r["fraction_of_limit"] >= 0.9),
            ),
            (
                "rate-limited: 429 answers",
                str(r["status_429"]),
                "0",
                _verdict(r["status_429"] == 0),
            ),
        ]
    if "quiet" in results:
        sizes = results["quiet"]["sizes"]
        counts = {s["requests_max"] for s in sizes.values()}
        for size, s in sizes.items():
            out.append(
                (
                    f"quiet poll: requests, {int(size):,} history rows",
                    f"{s['requests']:g} (cycle {s['cycle_s'] * 1000:.0f} ms)",
                    "<= 3, same for all sizes",
                    _verdict(s["requests_max"] <= 3 and len(counts) == 1),
                )
            )
        for size, s in sizes.items():
            d = s["daily_reconciliation"]
            out.append(
                (
                    f"daily full reconciliation: requests, {int(size):,} rows",
                    f"{d['requests']} (cycle {d['cycle_s']:.2f} s)",
                    "(info)",
                    "-",
                )
            )
    if "watch" in results:
        for name, w in results["watch"]["runs"].items():
            out += [
                (
                    f"after the hire, {name}: quiet poll, {w['hires']:,} watched hires",
                    f"{w['quiet']['total']} request(s)",
                    "as a quiet poll: 1",
                    _verdict(w["quiet"]["total"] <= 1),
                ),
                (
                    f"after the hire, {name}: {w['changes']} changes, next cycle",
                    f"{w['next_cycle']['total']} requests",
                    "(info)",
                    "-",
                ),
                (
                    f"after the hire, {name}: daily full listing",
                    f"{w['daily_full_listing']['total']} requests",
                    "(info)",
                    "-",
                ),
                (
                    f"after the hire, {name}: HiBob writes per synced change",
                    f"{w['writes_per_change']:.2f} ({w['start_date_writes']} start dates, "
                    f"{w['name_writes']} names)",
                    "1, each once",
                    _verdict(
                        w["writes_per_change"] == 1
                        and w["start_date_writes"] + w["name_writes"] == w["changes"]
                    ),
                ),
            ]
    if "process" in results:
        p = results["process"]
        out += [
            (
                f"process: poller CPU per hire ({p['hires']} hires, {p['log_level']}, "
                f"{p['latency_ms']} ms latency, gross)",
                f"{p['cpu_ms_per_hire']:.1f} ms",
                "budget <= 10 ms",
                _verdict(p["cpu_ms_per_hire"] <= 10),
            ),
            (
                "process: poller CPU per hire (net of an idle --once)",
                f"{p['cpu_ms_per_hire_net']:.1f} ms",
                "(info)",
                "-",
            ),
            (
                f"process: peak RSS over {p['hires']} hires",
                f"{p['maxrss_mb']:.0f} MB",
                "<= 150 MB",
                _verdict(p["maxrss_mb"] <= 150),
            ),
        ]
    if "cold" in results:
        c = results["cold"]
        out.append(
            (
                "cold start: poller --help",
                f"{c['help_wall_s'] * 1000:.0f} ms",
                "<= 500 ms",
                _verdict(c["help_wall_s"] <= 0.5),
            )
        )
    if "quiet" in results:
        first = next(iter(results["quiet"]["sizes"].values()))
        out.append(
            (
                "cold start: quiet poller run --once (process wall)",
                f"{first['process_wall_s'] * 1000:.0f} ms",
                "(info)",
                "-",
            )
        )
    return out


def table(data: list[Row]) -> str:
    header: Row = ("measure", "measured", "target", "verdict")
    widths = [max(len(r[i]) for r in [header, *data]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), line, *(fmt.format(*r) for r in data)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opts = options(args)
    wanted = args.only.split(",")
    compile_package()
    speed_before = speed_ns()
    started = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="poller-bench-") as tmp:
        workdir = Path(tmp)
        dbs = Databases(workdir, args.database_url)
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "backlog": lambda: scenarios.backlog(dbs, workdir, opts),
            "rate": lambda: scenarios.rate_limited(dbs, workdir, opts),
            "quiet": lambda: scenarios.quiet(dbs, workdir, opts),
            "watch": lambda: scenarios.watch(dbs, workdir, opts),
            "process": lambda: scenarios.process_costs(dbs, workdir, opts),
            "cold": lambda: scenarios.cold_start(workdir, opts),
        }
        try:
            for name in SECTIONS:
                if name in wanted:
                    t0 = time.monotonic()
                    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
                    results[name] = steps[name]()
                    print(
                        f"[bench] {name} done in {time.monotonic() - t0:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            dbs.drop_all()
    m = machine() | {"speed_ns_before": speed_before, "speed_ns_after": speed_ns()}
    report: dict[str, Any] = {
        "machine": m,
        "command": shlex.join(["python", "-m", "bench.run", *(argv or sys.argv[1:])]),
        "database": dbs.kind,
        "options": opts.__dict__ | {"quiet_sizes": list(opts.quiet_sizes)},
        "elapsed_s": round(time.monotonic() - started, 1),
        "table": [
            dict(zip(("measure", "measured", "target", "verdict"), r, strict=True))
            for r in rows(results)
        ],
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(
        f"\n{m['date']}  nproc={m['nproc']}  python {m['python']}  db={dbs.kind}  "
        f"latency={opts.latency_ms} ms  elapsed {report['elapsed_s']} s  "
        f"speed {speed_before}/{m['speed_ns_after']} ns (sum((1,2,3)) before/after)\n"
    )
    print(table(rows(results)))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
