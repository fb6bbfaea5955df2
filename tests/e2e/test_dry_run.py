"""Dry runs, previews and mapping errors, through the real `poller` command.

A dry run reads Pinpoint and the ledger and writes nowhere: the sandbox audit must show no
POST at all (HiBob's search is a POST too, and a dry run has no need of it), and the ledger
must be byte-for-byte the same, watermark included. A hire that can't be mapped is a row
error, not a cycle error: it ends `failed` with the field and the fix, and nothing is sent
to HiBob for it until the config is fixed and the row retried.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

from poller.config import MappingSettings
from poller.sandbox import Sandbox
from tests.e2e.harness import write_config
from tests.e2e.test_cli import poller
from tests.support.config import secrets_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def dump(db: Path) -> list[str]:
    """Every table's schema and rows, in a stable order."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def json_lines(stdout: str) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    return {str(r["application_id"]): r for r in rows}


def ledger_rows(cfg: Path) -> dict[str, dict[str, Any]]:
    """`poller list` as JSON, by application id."""
    listed = json.loads(poller("list", "--format", "json", "--limit", "0", config=cfg).stdout)
    return {r["application_id"]: r for r in listed}


def test_dry_run_prints_every_payload_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Sandbox(seed=11, hires=8) as sb:
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{db}")
        out = poller("run", "--once", "--dry-run", config=cfg, env=secrets_env(sb))
        assert out.returncode == 0, out.stderr
        payloads = json_lines(out.stdout)  # every stdout line is one JSON object
        assert sorted(payloads) == sorted(sb.hired_application_ids())
        assert "8 hire(s) would be processed; nothing was written" in out.stderr

        mapped = [p for p in payloads.values() if "create_employee" in p]
        assert len(mapped) == 7
        for p in mapped:
            body = p["create_employee"]
            assert isinstance(body, dict)
            assert body["email"] and body["work"]["site"] in ("London", "New York")
            assert str(p["comment"]).startswith("Employee created in HiBob")
        [anonymised] = [p for p in payloads.values() if "error" in p]
        error = str(anonymised["error"])
        assert f"cannot map application {anonymised['application_id']}: email:" in error
        assert f"then `poller retry {anonymised['application_id']}`" in error

        audit = sb.audit()
        assert audit.write_requests() == 0  # no POST of any kind, not even a search
        # HiBob is only read: its lists, to show what the title and department checks would
        # do. Hires are listed by stage type: no /jobs.
        assert set(audit.requests_by_endpoint()) == {
            "pinpoint GET /applications",
            "pinpoint GET /applications/{id}",
            "hibob GET /company/named-lists/{name}",
        }
    assert not db.exists()  # the ledger is never created by a dry run


def test_dry_run_on_an_existing_ledger_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Sandbox(seed=12, hires=0) as sb:
        earlier = sb.clock.now() - timedelta(hours=2)  # before the next listing's overlap
        resumed = sb.pinpoint.add_hire("Rita", "Resume", "rita@example.com", updated_at=earlier)
        done = sb.pinpoint.add_hire("Don", "Done", "don@example.com", cv=None, updated_at=earlier)
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{db}")
        env = secrets_env(sb)
        # Rita's CV upload fails for now: her row waits as pending, its employee created.
        sb.faults("hibob", "POST /docs/people/{id}/shared", error_rate="always")
        assert poller("run", "--once", config=cfg, env=env).returncode == 0
        sb.reset_faults()
        rita = json.loads(poller("show", resumed, "--format", "json", config=cfg).stdout)
        assert rita["state"] == "pending" and rita["hibob_employee_id"]
        new = sb.pinpoint.add_hire("Dora", "Dry", "dora.dry@example.com")
        before, writes = dump(db), sb.audit().write_requests()
        assert any("watermark" in line for line in before)

        out = poller("run", "--once", "--dry-run", config=cfg, env=env)
        assert out.returncode == 0, out.stderr
        shown = json_lines(out.stdout)
        # The unseen hire, and the pending row a real cycle would resume (though no longer
        # listed); not the done one.
        assert sorted(shown) == sorted([new, resumed]) and done not in shown
        assert "create_employee" in shown[new]
        employee_id = rita["hibob_employee_id"]
        assert "create_employee" not in shown[resumed]  # resumed rows create nothing again
        assert shown[resumed]["employee"] == {
            "hibob_employee_id": employee_id,
            "employee_link": "created",
        }
        assert shown[resumed]["cv"] == {"documentName": "CV - Rita Resume.pdf", "mode": "url"}
        assert f"with ID {employee_id} for Rita Resume" in str(shown[resumed]["comment"])
        assert dump(db) == before
        assert sb.audit().write_requests() == writes


def test_preview_one_application(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Sandbox(seed=13, hires=0) as sb:
        good = sb.pinpoint.add_hire("Pia", "Preview", "pia@example.com", cv="docx")
        hidden = sb.pinpoint.add_hire("x", "y", None, anonymised=True)
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{db}")
        env = secrets_env(sb)

        out = poller("preview", good, config=cfg, env=env)
        assert out.returncode == 0, out.stderr
        shown = json.loads(out.stdout)
        assert shown["create_employee"]["email"] == "pia@example.com"
        assert shown["create_employee"]["work"]["site"] == "London"
        assert shown["cv"] == {"documentName": "CV - Pia Preview.docx", "mode": "url"}

        out = poller("preview", hidden, config=cfg, env=env)
        assert out.returncode == 1
        error = json.loads(out.stdout)["error"]
        assert error.startswith(f"cannot map application {hidden}: email: ")
        assert "fix: complete the candidate's email in Pinpoint" in error

        assert poller("preview", "404404", config=cfg, env=env).returncode == 1
        assert sb.audit().write_requests() == 0
    assert not db.exists()


def test_unmappable_hires_fail_as_rows_and_complete_after_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Sandbox(seed=14, hires=0) as sb:
        lisbon_job = sb.pinpoint.add_job("Support Engineer", "Engineering", "Lisbon, Portugal")
        lisbon = sb.pinpoint.add_hire("Luis", "Lima", "luis.lima@example.com", job=lisbon_job)
        hidden = sb.pinpoint.add_hire("x", "y", None, anonymised=True)
        fine = sb.pinpoint.add_hire("Fay", "Fine", "fay.fine@example.com")
        # default_site unset: a location with no site_map entry can't be mapped.
        mapping: dict[str, Any] = {"default_site": ""}
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{db}", {"mapping": mapping})
        env = secrets_env(sb)

        out = poller("run", "--once", config=cfg, env=env)
        assert out.returncode == 0, out.stderr  # row errors don't fail the cycle
        rows = ledger_rows(cfg)
        assert rows[fine]["state"] == "done"
        assert rows[lisbon]["state"] == rows[hidden]["state"] == "failed"
        assert rows[lisbon]["last_error"] == (
            f"cannot map application {lisbon}: work.site: application {lisbon} has location "
            "'Lisbon, Portugal', which has no site (fix: add it to mapping.site_map or set "
            "mapping.default_site)"
        )
        assert rows[hidden]["last_error"].startswith(f"cannot map application {hidden}: email:")
        fix = f"complete the candidate's email in Pinpoint, then `poller retry {hidden}`"
        assert fix in rows[hidden]["last_error"]
        # Nothing went to HiBob for either: one create, the mappable hire's.
        audit = sb.audit()
        assert audit.requests("hibob", "POST /people") == 1
        assert audit.employees_created_per_email() == {"fay.fine@example.com": 1}

        mapping = {"site_map": {"Lisbon, Portugal": "Berlin"}, "default_site": ""}
        write_config(tmp_path / "config.toml", sb, f"sqlite:///{db}", {"mapping": mapping})
        assert poller("retry", lisbon, config=cfg).returncode == 0
        out = poller("run", "--once", config=cfg, env=env)
        assert out.returncode == 0, out.stderr
        rows = ledger_rows(cfg)
        assert rows[lisbon]["state"] == "done" and rows[lisbon]["last_error"] is None
        # The anonymised hire stays failed: no config can give it an email.
        assert rows[hidden]["state"] == "failed"
        employee = sb.hibob.find_employee("luis.lima@example.com")
        assert employee is not None and employee.fields["work"]["site"] == "Berlin"
        assert sb.audit().employees_created_per_email() == {
            "fay.fine@example.com": 1,
            "luis.lima@example.com": 1,
        }


def test_shipped_config_documents_every_mapping_key() -> None:
    text = (REPO_ROOT / "config.toml").read_text()
    assert set(tomllib.loads(text)["mapping"]) == set(MappingSettings.model_fields)
    section = text.split("[mapping]", 1)[1].split("\n[", 1)[0].splitlines()
    comments = " ".join(line for line in section if line.lstrip().startswith("#"))
    for i, line in enumerate(section):
        key = re.match(r"^(\w+)\s*=", line)
        if key is None:
            continue
        # Each key has a comment of its own: above it, after it, or naming it.
        above = i > 0 and section[i - 1].lstrip().startswith("#")
        assert above or "#" in line or key.group(1) in comments, f"{key.group(1)} is undocumented"
