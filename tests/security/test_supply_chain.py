"""Supply chain: every runtime dependency is pinned exactly, and the image installs the pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (ROOT / "requirements.lock").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[_norm(match.group(1))] = match.group(2)
    return pins


def test_every_runtime_dependency_is_pinned_exactly() -> None:
    pins = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
        assert _norm(name) in pins, f"{name} is not in requirements.lock"
    assert "psycopg-binary" in pins  # the extra psycopg[binary] pulls in


def test_the_image_installs_only_the_pins() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install [^\n]*--no-deps -r requirements\.lock", dockerfile)
    # The package itself is installed without resolving anything new, then checked.
    assert "--no-deps /dist/*.whl" in dockerfile and "pip check" in dockerfile
