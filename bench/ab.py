"""Interleaved A/B of poller CPU per hire between source trees, on the same machine minute.

    git worktree add /tmp/poller-old <rev>
    python -m bench.ab /tmp/poller-old . --reps 4          # about 4 minutes

The VM's speed drifts between runs (see README.md here), so two figures taken minutes
apart can't be compared. This alternates the trees run by run (A, B, A, B, ...), each on a
fresh simulator and database with the same seed per round, and reports each tree's median.
Every tree runs the same way: `python -c "from poller.cli import main; ..."` with the tree
first on PYTHONPATH, byte-compiled first. The results go to --output as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.pollerproc import Databases, PollerSetup, run_measured
from bench.run import compile_package, speed_ns
from bench.scenarios import BACKFILL_ALL, _sim, _timeout

LAUNCH = "import sys; from poller.cli import main; sys.argv[0] = 'poller'; main()"


def run_tree(
    tree: Path,
    hires: int,
    seed: int,
    dbs: Databases,
    workdir: Path,
    *,
    latency_ms: int = 0,
    log_level: str = "WARNING",
) -> float:
    """CPU ms per hire of one `poller run --once` of ``tree`` over ``hires`` fresh hires."""
    with _sim(seed, latency_ms) as sim:
        sim.add_fresh_hires(hires)
        setup = PollerSetup(sim, dbs.fresh("ab"), workdir, BACKFILL_ALL)
        env = setup.env({"POLLER_LOGGING__LEVEL": log_level, "PYTHONPATH": str(tree)})
        result = run_measured(
            [sys.executable, "-c", LAUNCH, "run", "--once"],
            env=env,
            cwd=workdir,
            timeout=_timeout(hires) + hires * latency_ms / 1000,
        )
    if result.code != 0:
        raise RuntimeError(f"{tree}: poller run --once failed: {result.stderr[-2000:]}")
    return result.cpu_s / hires * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n")[0])
    p.add_argument("trees", nargs="+", type=Path, help="source trees (each holds poller/)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--hires", type=int, default=2000)
    p.add_argument("--latency-ms", type=int, default=0, help="on every request (default 0)")
    p.add_argument("--log-level", default="WARNING", help="logging.level (default WARNING)")
    p.add_argument("--output", type=Path, default=Path("bench/results/ab-latest.json"))
    args = p.parse_args(argv)
    trees = [t.resolve() for t in args.trees]
    for tree in trees:
        compile_package(tree)
    runs: dict[str, list[float]] = {str(t): [] for t in trees}
    speeds = []
    with tempfile.TemporaryDirectory(prefix="poller-ab-") as tmp:
        dbs = Databases(Path(tmp), None)
        for rep in range(args.reps):
            speeds.append(speed_ns())
            for tree in trees:
                ms = run_tree(
                    tree,
                    args.hires,
                    700 + rep,
                    dbs,
                    Path(tmp),
                    latency_ms=args.latency_ms,
                    log_level=args.log_level,
                )
                runs[str(tree)].append(round(ms, 2))
                print(f"[ab] round {rep + 1}: {tree}: {ms:.2f} ms/hire", flush=True)
    revs = {
        str(t): subprocess.run(
            ["git", "-C", str(t), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        for t in trees
    }
    report: dict[str, Any] = {
        "git_rev": revs,
        "command": " ".join(["python -m bench.ab", *(sys.argv[1:] if argv is None else argv)]),
        "hires": args.hires,
        "latency_ms": args.latency_ms,
        "log_level": args.log_level,
        "speed_ns_per_round": speeds,
        "cpu_ms_per_hire": {
            t: {"median": statistics.median(v), "runs": v} for t, v in runs.items()
        },
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    for tree, values in runs.items():
        print(f"{tree}: median {statistics.median(values):.2f} ms/hire, runs {values}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
