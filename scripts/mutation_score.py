"""The score per module from `mutmut results --all true` on stdin, then every survivor by name.

A survivor named in scripts/mutation-equivalents.txt changes no behaviour (the file says why
for each): it is counted apart, as "equivalent". The score is killed / (killed + survived),
a timeout counting as killed (the tests hung: a row that never finishes). A survivor not in
that file is a promise no test keeps: it needs a test, or a line there with the reason.
Mutant numbers follow the function's source, so a changed function may renumber its
mutants: a stale line only means a survivor to look at again.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_\d+: (?P<status>.+)$")
EQUIVALENTS = Path(__file__).with_name("mutation-equivalents.txt")


def module_of(name: str) -> str:
    """poller.flow.steps.x__run_steps -> poller/flow/steps.py (mutmut's mangled names)."""
    parts = name.split(".")
    while parts and (parts[-1].startswith(("x_", "x\u01c1")) or parts[-1][:1].isupper()):
        parts.pop()
    return "/".join(parts) + ".py"


def equivalents(path: Path = EQUIVALENTS) -> set[str]:
    if not path.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines())
    return {line for line in lines if line}


def main() -> int:
    known = equivalents()
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for raw in sys.stdin:
        match = LINE.match(raw)
        if not match:
            continue
        status = match["status"].strip()
        full = raw.strip().split(":")[0]
        if status in ("survived", "timeout") and full in known:  # a hang under load
            status = "equivalent"
        by_module[module_of(match["name"])][status] += 1
        if status == "survived":
            survivors.append(full)
    if not by_module:
        print("no mutmut results yet: run scripts/mutation", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    print(
        f"{'module':<32} {'killed':>7} {'survived':>9} {'equivalent':>11} {'no tests':>9} "
        f"{'other':>6} {'score':>7}"
    )
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(_row(module, counts))
    print(_row("all", total))
    if survivors:
        print(f"\n{len(survivors)} survived (`.venv/bin/mutmut show NAME` for the change):")
        for name in survivors:
            print(f"  {name}")
    else:
        print(f"\nno survivor outside {EQUIVALENTS.name}")
    return 0


def _row(label: str, counts: Counter[str]) -> str:
    killed = counts["killed"] + counts["caught by type check"] + counts["timeout"]
    survived, equivalent, no_tests = counts["survived"], counts["equivalent"], counts["no tests"]
    other = sum(counts.values()) - killed - survived - equivalent - no_tests
    checked = killed + survived
    score = f"{killed / checked:.1%}" if checked else "-"
    return (
        f"{label:<32} {killed:>7} {survived:>9} {equivalent:>11} {no_tests:>9} {other:>6} "
        f"{score:>7}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
