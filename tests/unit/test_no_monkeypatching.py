"""The product uses its libraries through their public API: no module of it assigns to an
attribute of a module or class it doesn't own (the standard library's or a dependency's), nor
replaces a method on a library object it builds. The simulators are test tooling, left out.

Two checks, because neither sees everything: the source (an assignment, ``del`` or
``setattr`` whose target is reached from an imported library name), and a process that
imports every product module and builds what the poller builds, with every library module
and class compared before and after.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "poller"


def _product_files() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "sandbox" not in p.parts]


def _foreign_names(tree: ast.Module) -> set[str]:
    """Names a module binds by importing something that isn't the product."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("poller"):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and not (node.module or "").startswith("poller")
        ):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def patches_in(source: str) -> list[str]:
    """Lines of ``source`` that change an attribute of an imported library name."""
    tree = ast.parse(source)
    foreign = _foreign_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and node.args
        ):
            targets = [ast.Attribute(value=node.args[0], attr="?", ctx=ast.Store())]
        for target in targets:
            if isinstance(target, ast.Attribute) and _root(target) in foreign:
                found.append(f"line {node.lineno}: {ast.unparse(target)}")
    return found


def test_the_check_sees_the_patches_it_is_meant_to_catch() -> None:
    source = (
        "import http.client\nimport logging\nfrom requests.adapters import HTTPAdapter\n"
        "http.client.parse_headers = len\nlogging._srcfile = None\n"
        "setattr(HTTPAdapter, 'send', len)\nlogging.logThreads += 0\n"
    )
    assert len(patches_in(source)) == 4
    own = "import logging\nlog = logging.getLogger()\nlog.level = 10\nx = object()\nx.y = 1\n"
    assert patches_in(own) == []


def test_no_product_module_assigns_to_a_library_module_or_class() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): found
        for path in _product_files()
        if (found := patches_in(path.read_text()))
    }
    assert offenders == {}


# Run in a fresh interpreter: import the libraries, snapshot them, then import the whole
# product and build what the poller builds; print what changed.
_PROBE = r"""
import importlib, json, pkgutil, sys, tempfile, types
import logging, http.client, email.parser, sqlite3, requests, urllib3, sqlalchemy, structlog
import pydantic, click, apscheduler, alembic, werkzeug, jinja2, waitress, prometheus_client
import requests.adapters, sqlalchemy.engine, sqlalchemy.pool, structlog.stdlib

def snapshot():
    seen = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.startswith(("poller", "__main__")):
            continue
        items = dict(vars(mod))
        for key, value in items.items():
            seen[(name, key)] = id(value)
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                for attr, member in list(vars(value).items()):
                    seen[(f"{name}.{key}", attr)] = id(member)
    return seen

before = snapshot()
import poller
for info in pkgutil.walk_packages(poller.__path__, "poller."):
    if ".sandbox" not in info.name and not info.name.endswith("__main__"):
        importlib.import_module(info.name)
from poller.logs import configure_logging
from poller.store.engine import make_engine
from poller.upstream.http import HttpClient
from poller.upstream.transport import make_session
import io
configure_logging("INFO", "json", stream=io.StringIO())
structlog.get_logger("poller.probe").info("probe")
logging.getLogger("alembic").warning("probe")
with tempfile.TemporaryDirectory() as folder:
    engine = make_engine(f"sqlite:///{folder}/probe.db")
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")
    session = make_session()
    HttpClient("pinpoint", "https://example.invalid", headers={"X-API-KEY": "k" * 16},
               session=session)
    shadowed = []
    for obj in (engine, engine.dialect, engine.pool, session, session.get_adapter("https://x"),
                *logging.getLogger().handlers):
        for attr, value in vars(obj).items():
            if callable(getattr(type(obj), attr, None)) and callable(value):
                shadowed.append(f"{type(obj).__name__}.{attr}")
    engine.dispose()
after = snapshot()
changed = sorted(f"{mod}.{attr}" for (mod, attr), ident in before.items()
                 if (mod, attr) in after and after[(mod, attr)] != ident)
print(json.dumps({"changed": changed, "shadowed": shadowed}))
"""


# State the libraries keep and change themselves, through their own code.
LIBRARIES_OWN_STATE = {
    # structlog.stdlib.LoggerFactory calls logging.setLoggerClass, as documented.
    "logging._loggerClass",
    # SQLAlchemy's counter of constructs made (each Column, Table, ...).
    "sqlalchemy.util.langhelpers._creation_order",
    # tempfile's lazily found temporary folder and name generator.
    "tempfile._name_sequence",
    "tempfile.tempdir",
}


def test_importing_and_running_the_product_changes_no_library_module_or_class() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result["changed"]) - LIBRARIES_OWN_STATE == set()
    assert result["shadowed"] == []
