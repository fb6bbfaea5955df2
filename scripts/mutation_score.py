"""The score per module from `mutmut results --all true` on stdin: killed / (killed +
survived), the other outcomes counted apart; then every survivor by name."""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_\d+: (?P<status>.+)$")


def module_of(name: str) -> str:
    """poller.flow.steps.x__run_steps -> poller/flow/steps.py (mutmut's mangled names)."""
    parts = name.split(".")
    while parts and (parts[-1].startswith(("x_", "x\u01c1")) or parts[-1][:1].isupper()):
        parts.pop()
    return "/".join(parts) + ".py"


def main() -> int:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for raw in sys.stdin:
        match = LINE.match(raw)
        if not match:
            continue
        status = match["status"].strip()
        full = raw.strip().split(":")[0]
        by_module[module_of(match["name"])][status] += 1
        if status == "survived":
            survivors.append(full)
    if not by_module:
        print("no mutmut results yet: run scripts/mutation", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    print(f"{'module':<32} {'killed':>7} {'survived':>9} {'no tests':>9} {'other':>6} {'score':>7}")
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(_row(module, counts))
    print(_row("all", total))
    if survivors:
        print(f"\n{len(survivors)} survived (`.venv/bin/mutmut show NAME` for the change):")
        for name in survivors:
            print(f"  {name}")
    return 0


def _row(label: str, counts: Counter[str]) -> str:
    killed = counts["killed"] + counts["caught by type check"] + counts["timeout"]
    survived = counts["survived"]
    no_tests = counts["no tests"]
    other = sum(counts.values()) - killed - survived - no_tests
    checked = killed + survived
    score = f"{killed / checked:.1%}" if checked else "-"
    return f"{label:<32} {killed:>7} {survived:>9} {no_tests:>9} {other:>6} {score:>7}"


if __name__ == "__main__":
    raise SystemExit(main())
