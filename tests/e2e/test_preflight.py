"""`poller check` as users run it: real process, real simulators, one line per problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poller.sandbox import Sandbox
from tests.e2e.harness import secrets_env, write_config
from tests.e2e.test_cli import poller


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=5, hires=6) as sb:
        yield sb


def check(
    tmp_path: Path,
    sb: Sandbox,
    extra: dict[str, dict[str, Any]] | None = None,
    **secrets: str,
) -> tuple[int, list[str], list[str]]:
    """Run `poller check`; (exit code, its `problem` lines, every stdout line)."""
    cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{tmp_path}/p.db", extra)
    out = poller("check", config=cfg, env={**secrets_env(sb), **secrets})
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stdout.splitlines()
    problems = [
        line.removeprefix("problem").strip() for line in lines if line.startswith("problem")
    ]
    # The last line counts the problems: one line per problem, each listed above it.
    assert lines[-1] == (f"{len(problems)} problem(s)" if problems else "all checks passed")
    return out.returncode, problems, lines


def test_all_good_exits_0_after_one_read_of_each_api(tmp_path: Path, sandbox: Sandbox) -> None:
    code, problems, lines = check(tmp_path, sandbox)
    assert (code, problems) == (0, [])
    assert any("Pinpoint: key accepted" in line for line in lines)
    assert any("HiBob: 3 sites" in line for line in lines)
    audit = sandbox.audit()
    assert audit.requests_by_endpoint() == {
        "hibob GET /company/named-lists/{name}": 2,  # site and department
        "hibob POST /people/search": 1,  # the read permission; a POST, but a read
        "pinpoint GET /jobs": 1,
    }
    assert audit.employees_created_per_email() == {} and audit.comments_per_application() == {}
    assert not Path(tmp_path, "p.db").exists()  # check never touches the ledger


def test_wrong_pinpoint_key(tmp_path: Path, sandbox: Sandbox) -> None:
    code, problems, lines = check(tmp_path, sandbox, PINPOINT_API_KEY="wrong-key-123456")
    assert code == 1
    assert len(problems) == 1
    assert "Pinpoint rejected PINPOINT_API_KEY (401)" in problems[0]
    assert any("HiBob: token accepted" in line for line in lines)  # the other API still checked
    assert "wrong-key-123456" not in "\n".join(lines)
    assert sandbox.audit().requests("pinpoint") == 1  # never retried


def test_wrong_hibob_token(tmp_path: Path, sandbox: Sandbox) -> None:
    code, problems, lines = check(tmp_path, sandbox, HIBOB_BASE64_TOKEN="bm9ib2R5Om5vdGhpbmc=")
    assert code == 1
    assert problems == [
        "HiBob rejected HIBOB_BASE64_TOKEN (401): it must be base64('<service user id>:<token>') "
        "of an active service user"
    ]
    assert any("Pinpoint: key accepted" in line for line in lines)
    # HiBob's WAF blocks repeated failed auth: one refused call, then stop.
    assert sandbox.audit().requests("hibob") == 1


def test_hibob_user_without_permissions_names_each_missing_permission(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    code, problems, _ = check(tmp_path, sandbox, HIBOB_BASE64_TOKEN=sandbox.hibob_noperm_token)
    assert code == 1
    assert len(problems) == 2
    lists, search = problems
    assert lists.startswith("HiBob refused to read the company list 'site' (403)")
    assert "View on the work category" in lists
    assert search.startswith("HiBob refused to search people (403)")
    assert "View on the root, about, employment and work categories" in search
    assert "Hired, Employed or Terminated" in search
    assert sandbox.audit().statuses("hibob") == {403: 2}


def test_pinpoint_integration_not_enabled(tmp_path: Path, sandbox: Sandbox) -> None:
    sandbox.pinpoint.set_forbidden(True)
    code, problems, _ = check(tmp_path, sandbox)
    assert code == 1
    assert problems == [
        "Pinpoint answered 403 (integration not enabled): enable API access for the company "
        "that owns PINPOINT_API_KEY"
    ]


def test_mapped_values_missing_from_hibob_lists_get_suggestions(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    mapping = {
        "site_map": {"London, United Kingdom": "Londn", "New York, United States": "New York"},
        "default_site": "berlin",
        "department_map": {"Product": "Enginering", "Ops": "Paris Office"},
    }
    code, problems, _ = check(tmp_path, sandbox, {"mapping": mapping})
    assert code == 1
    assert problems == [
        "mapping.site_map['London, United Kingdom'] = 'Londn' is not a HiBob site; closest: London",
        "mapping.default_site = 'berlin' is not a HiBob site; closest: Berlin",
        "mapping.department_map['Product'] = 'Enginering' is not a HiBob department; "
        "closest: Engineering",
        "mapping.department_map['Ops'] = 'Paris Office' is not a HiBob department",
    ]


def test_job_without_a_configured_hired_stage(tmp_path: Path, sandbox: Sandbox) -> None:
    job = sandbox.pinpoint.add_job("Closer", "Sales", hired_stage_name="Signed")
    code, problems, _ = check(tmp_path, sandbox)
    assert code == 1
    assert problems == [
        f"Pinpoint job {job} (Closer) has no hired stage among its stages (Rejected, Applied, "
        "Review, Interview, Signed): add its hired stage's name to pinpoint.hired_stage_names"
    ]
    names = {"hired_stage_names": ["Hired", "Offer Accepted", "signed"]}  # case is ignored
    code, problems, _ = check(tmp_path, sandbox, {"pinpoint": names})
    assert (code, problems) == (0, [])


def test_unknown_hired_stage_ids_and_no_hired_stage_at_all(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    stage = sandbox.pinpoint.hired_stage_id(next(iter(sandbox.pinpoint.jobs)))
    only_ids = {"hired_stage_names": [], "hired_stage_ids": [stage, "999999"]}
    code, problems, _ = check(tmp_path, sandbox, {"pinpoint": only_ids})
    assert code == 1
    assert "pinpoint.hired_stage_ids: '999999' is not a stage of any Pinpoint job" in problems
    # Every other job lacks one of the configured ids.
    assert sum("has no hired stage" in p for p in problems) == len(sandbox.pinpoint.jobs) - 1

    code, problems, _ = check(tmp_path, sandbox, {"pinpoint": {"hired_stage_names": ["Won"]}})
    assert code == 1
    assert problems[-1].startswith("Pinpoint: no job has a stage named ['Won']")


def test_config_problems_and_missing_secrets_exit_2(tmp_path: Path, sandbox: Sandbox) -> None:
    cfg = write_config(
        tmp_path / "config.toml",
        sandbox,
        f"sqlite:///{tmp_path}/p.db",
        {"mapping": {"site_mapp": {"Paris, France": "Paris"}}},
    )
    out = poller("check", config=cfg, env=secrets_env(sandbox))
    assert out.returncode == 2
    assert "mapping.site_mapp: unknown key" in out.stderr
    assert sandbox.audit().requests() == 0  # nothing is called with a config that doesn't load

    good = write_config(tmp_path / "good.toml", sandbox, f"sqlite:///{tmp_path}/p.db")
    out = poller("check", config=good, env={"PINPOINT_API_KEY": sandbox.pinpoint_api_key})
    assert out.returncode == 2 and "HIBOB_BASE64_TOKEN: not set" in out.stderr
