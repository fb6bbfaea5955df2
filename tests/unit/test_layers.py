"""The layer contracts ([tool.importlinter] in pyproject.toml) hold, and would catch a breach.

scripts/test runs lint-imports on the package itself; this test shows the contracts bite: a
copy of the package with `import requests` added to the flow fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT), "--config", str(config), "--no-cache"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    not LINT.exists(), reason="lint-imports is not installed (pip install -e '.[dev]')"
)
def test_adding_requests_to_the_flow_breaks_a_contract(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "poller", tmp_path / "poller", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = ROOT / "pyproject.toml"
    assert lint(tmp_path, config).returncode == 0  # the copy, as it is, keeps every contract
    steps = tmp_path / "poller" / "flow" / "steps.py"
    steps.write_text(
        steps.read_text().replace("import structlog\n", "import requests\nimport structlog\n", 1)
    )
    out = lint(tmp_path, config)
    assert out.returncode != 0
    assert "poller.flow is not allowed to import requests" in out.stdout
