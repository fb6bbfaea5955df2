"""Python function calls per hire: a CPU proxy that the VM's speed drift doesn't move.

    python -m bench.calls                  # 300 fresh hires against an idle run, ~10 s
    python -m bench.calls --hires 500 --top 30

CPU time on the bench VM drifts by 10 % from one run to the next, more than most single
changes save. This counts instead: `poller run --once` runs under a profile hook (all
threads) that counts every Python and C function call, once with fresh hires and once with
none; the difference divided by the hires is the figure. It is the same from run to run
within a few calls, so an A/B of two trees needs one run each. `--top` lists the
files and functions the calls come from.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

Key = str  # "file:line:function"


def _child(out: str, argv: list[str]) -> None:
    """In the poller's process: count calls in every thread until exit, then save them."""
    import atexit

    calls: collections.Counter[Key] = collections.Counter()
    c_calls = [0]

    def hook(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            calls[f"{code.co_filename}:{code.co_firstlineno}:{code.co_name}"] += 1
        elif event == "c_call":
            c_calls[0] += 1

    def save() -> None:
        sys.setprofile(None)
        Path(out).write_text(json.dumps({"calls": calls, "c_calls": c_calls[0]}))

    atexit.register(save)
    sys.setprofile(hook)
    threading.setprofile(hook)
    from poller.cli import main

    sys.argv = ["poller", *argv]
    main()


def _counted_run(hires: int, workdir: Path, level: str) -> tuple[dict[Key, int], int]:
    from bench.pollerproc import Databases, PollerSetup, run_measured
    from bench.scenarios import BACKFILL_ALL, _sim, _timeout

    out = workdir / f"calls-{hires}.json"
    with _sim(11, 0) as sim:
        sim.add_fresh_hires(hires)
        setup = PollerSetup(sim, Databases(workdir, None).fresh("calls"), workdir, BACKFILL_ALL)
        result = run_measured(
            [sys.executable, "-m", "bench.calls", "--child", str(out), "run", "--once"],
            env=setup.env({"POLLER_LOGGING__LEVEL": level}),
            cwd=Path(__file__).resolve().parent.parent,
            timeout=_timeout(hires),
        )
        if result.code != 0:
            raise RuntimeError(f"poller run --once failed ({result.code}): {result.stderr[-2000:]}")
    counted = json.loads(out.read_text())
    return counted["calls"], int(counted["c_calls"])


def _short(path: str) -> str:
    for marker in ("site-packages/", "python3.11/", "/poller/", "/bench/"):
        if marker in path:
            return (marker.strip("/") + "/" if marker.startswith("/") else "") + path.split(
                marker, 1
            )[1]
    return path


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        _child(args_in[1], args_in[2:])
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.calls", description=__doc__.split("\n")[0])
    p.add_argument("--hires", type=int, default=300)
    p.add_argument("--top", type=int, default=0, help="also list the N biggest sources")
    p.add_argument("--log-level", default="WARNING", help="logging.level (default WARNING)")
    p.add_argument(
        "--by", choices=("file", "function"), default="file", help="what --top groups by"
    )
    args = p.parse_args(args_in)
    from bench.run import compile_package

    compile_package()
    with tempfile.TemporaryDirectory(prefix="poller-calls-") as tmp:
        idle, idle_c = _counted_run(0, Path(tmp), args.log_level)
        busy, busy_c = _counted_run(args.hires, Path(tmp), args.log_level)
    per_hire = collections.Counter({k: v - idle.get(k, 0) for k, v in busy.items()})
    total = sum(per_hire.values())
    print(
        f"per hire ({args.hires} hires, concurrency 4, {args.log_level}): "
        f"{total / args.hires:.0f} Python calls, {(busy_c - idle_c) / args.hires:.0f} C calls"
    )
    if args.top:
        by_file: collections.Counter[str] = collections.Counter()
        for key, n in per_hire.items():
            path, line, name = key.rsplit(":", 2)
            by_file[_short(path) if args.by == "file" else f"{_short(path)}:{line} {name}"] += n
        for path, n in by_file.most_common(args.top):
            print(f"{n / args.hires:8.1f}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
