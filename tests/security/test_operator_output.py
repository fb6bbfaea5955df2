"""What `poller list` and `poller show` print to an operator's terminal from candidate data.

A candidate's name is attacker-controlled text. Printed raw, terminal escape sequences in it
can clear the screen, retitle the window or plant a clickable link (OSC 8); in the rich table,
square brackets are read as markup (``[link=https://…]``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from poller.models import Record
from poller.report import render_rows
from poller.sandbox import Sandbox
from tests.e2e.harness import make_poller
from tests.security.helpers import run_poller

HOSTILE_FIRST = "Ann\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07"
HOSTILE_LAST = "[link=https://evil.example/]Bob[/link]"


@pytest.fixture
def hostile_row(tmp_path: Path) -> tuple[Path, str, list[Record]]:
    """(config path, application id, its ledger rows) after one cycle."""
    with Sandbox(seed=81, hires=0) as sb:
        app_id = sb.pinpoint.add_hire(HOSTILE_FIRST, HOSTILE_LAST, "ann@example.com", cv=False)
        p = make_poller(tmp_path, sb, f"sqlite:///{tmp_path}/p.db")
        try:
            p.settle()
            rows = p.ledger.rows(limit=0)
        finally:
            p.close()
    return tmp_path / "config.toml", app_id, rows


def test_show_prints_no_terminal_escape_sequences(
    hostile_row: tuple[Path, str, list[Record]],
) -> None:
    cfg, app_id, _ = hostile_row
    out = run_poller("show", app_id, config=cfg, logs=cfg.parent / "logs")
    assert out.returncode == 0
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout


def test_the_list_table_shows_names_as_text(hostile_row: tuple[Path, str, list[Record]]) -> None:
    _, _, rows = hostile_row
    out = io.StringIO()
    render_rows(rows, "table", out=out, pretty=True)
    rendered = out.getvalue()
    assert "\x1b" not in rendered
    assert "[link=https://evil.example/]" in rendered  # shown, not interpreted
