"""`poller purge`: a confirmation guards it, and the personal data is really gone, down to
the bytes of the SQLite file (a deleted value must not linger in free pages or the WAL).
"""

from __future__ import annotations

import json
from pathlib import Path

from poller.sandbox import Sandbox
from poller.store.ledger import Ledger
from tests.e2e.harness import write_config
from tests.security.helpers import files_under, run_poller, scan
from tests.support.config import secrets_env


def test_purge_asks_first_then_removes_the_personal_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with Sandbox(seed=71, hires=0) as sb:
        app_id = sb.pinpoint.add_hire("Persephone", "Quartermaine", "persephone.q@example.com")
        sb.pinpoint.add_hire("Other", "Person", "other.person@example.com")
        cfg = write_config(home / "config.toml", sb, f"sqlite:///{home}/poller.db")
        assert run_poller("run", "--once", config=cfg, env=secrets_env(sb)).returncode == 0
        # A change after the hire: the old and new names are in application_changes too.
        sb.pinpoint.edit_candidate(app_id, last_name="Quartermaine-Vance")
        assert run_poller("run", "--once", config=cfg, env=secrets_env(sb)).returncode == 0
    personal = {"email": "persephone.q@example.com", "name": "Quartermaine"}
    assert scan(files_under(home), personal)  # it is there before the purge

    logs = tmp_path / "logs"
    declined = run_poller("purge", app_id, config=cfg, stdin="n\n", logs=logs)
    assert declined.returncode == 1 and "not purged" in declined.stderr
    assert scan(files_under(home), personal)
    confirmed = run_poller("purge", app_id, config=cfg, stdin="y\n", logs=logs)
    assert confirmed.returncode == 0, confirmed.stderr
    assert "personal data removed" in confirmed.stdout

    shown = json.loads(run_poller("show", app_id, "--format", "json", config=cfg).stdout)
    assert shown["email"] is None and shown["candidate_name"] is None
    assert shown["state"] == "done" and shown["hibob_employee_id"]  # the fact stays
    assert [e["outcome"] for e in shown["history"]] == ["purged"]
    assert [(c["field"], c["old_value"], c["new_value"]) for c in shown["changes"]] == [
        ("name", None, None)
    ]
    assert scan(files_under(home), personal) == []
    ledger = Ledger(f"sqlite:///{home}/poller.db")
    try:  # only the one row was touched
        assert {r.email for r in ledger.rows(limit=0)} == {None, "other.person@example.com"}
    finally:
        ledger.dispose()
