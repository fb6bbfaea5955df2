"""`poller check` as users run it: real process, real simulators, one line per problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poller.sandbox import Sandbox
from tests.e2e.harness import write_config
from tests.e2e.test_cli import poller
from tests.support.config import secrets_env


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=5, hires=6) as sb:
        yield sb


def lines_of(kind: str, lines: list[str]) -> list[str]:
    return [line.removeprefix(kind).strip() for line in lines if line.startswith(kind)]


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
    problems = lines_of("problem", lines)
    # The last line counts the problems: one line per problem, each listed above it.
    assert lines[-1] == (f"{len(problems)} problem(s)" if problems else "all checks passed")
    return out.returncode, problems, lines


def test_all_good_exits_0_after_one_read_of_each_scope(tmp_path: Path, sandbox: Sandbox) -> None:
    code, problems, lines = check(tmp_path, sandbox)
    assert (code, problems) == (0, [])
    assert any("Pinpoint: key accepted; 6 job(s); hires found by stage type" in x for x in lines)
    assert any("HiBob: 3 sites, 7 departments, 9 titles" in line for line in lines)
    # The seeded world's two confidential jobs have titles HiBob's list lacks: hires there
    # are created without a title (the default), so these warn rather than fail.
    assert lines_of("warning", lines) == [
        f"Pinpoint job title {title!r} is not a HiBob title{near}: hires at job {job} are "
        "created without a title; map it in mapping.title_map"
        for title, near, job in (
            ("Head of Security", "", 20),
            ("Sales Director", "", 22),
        )
    ]
    audit = sandbox.audit()
    assert audit.requests_by_endpoint() == {
        "hibob GET /company/named-lists/{name}": 3,  # site, department and title
        "hibob POST /people/search": 1,  # the read permission; a POST, but a read
        "pinpoint GET /jobs": 2,  # Jobs: read, then Stages: read
        "pinpoint GET /applications": 4,  # Applications: read, then offers, locations, departments
        "pinpoint GET /comments": 1,  # Comments: read
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
        "default_site": "berlin",  # HiBob matches sites ignoring case: not a problem
        "department_map": {"Product": "Enginering", "Ops": "Paris Office"},
        "title_map": {"Head of Security": "Security Lead"},
    }
    code, problems, _ = check(tmp_path, sandbox, {"mapping": mapping})
    assert code == 1
    assert problems == [
        "mapping.site_map['London, United Kingdom'] = 'Londn' is not a HiBob site; closest: London",
        "mapping.department_map['Product'] = 'Enginering' is not a HiBob department; "
        "closest: Engineering",
        "mapping.department_map['Ops'] = 'Paris Office' is not a HiBob department",
        "mapping.title_map['Head of Security'] = 'Security Lead' is not a HiBob title",
    ]


def test_a_missing_scope_a_missing_title_and_a_site_in_other_case(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The first two are reported by name; the third is not reported at all."""
    sandbox.pinpoint.configure({"missing_scopes": ["comments:read"]})
    mapping = {"default_site": "LONDON", "on_unknown_title": "fail"}
    code, problems, lines = check(tmp_path, sandbox, {"mapping": mapping})
    assert code == 1
    assert problems == [
        "Pinpoint refused to list comments (403): the API key lacks Comments: read; in "
        "Pinpoint, Settings > API Keys, give this key Comments: read",
        "Pinpoint job title 'Head of Security' is not a HiBob title: hires at job 20 would "
        "fail; map it in mapping.title_map",
        "Pinpoint job title 'Sales Director' is not a HiBob title: hires at job 22 would "
        "fail; map it in mapping.title_map",
    ]
    assert not any("LONDON" in line or "site" in line.casefold() for line in problems)
    assert any("HiBob: token accepted" in line for line in lines)


@pytest.mark.parametrize(
    ("scope", "what", "named"),
    [
        ("stages:read", "the jobs' stages", "Stages: read"),
        ("applications:read", "to list applications", "Applications: read"),
        ("offers:read", "to include offers", "Offers: read"),
        ("locations:read", "to include job locations", "Locations: read"),
        ("departments:read", "to include job departments", "Departments: read"),
    ],
)
def test_each_missing_read_scope_is_named(
    tmp_path: Path, sandbox: Sandbox, scope: str, what: str, named: str
) -> None:
    sandbox.pinpoint.configure({"missing_scopes": [scope]})
    code, problems, _ = check(tmp_path, sandbox)
    assert code == 1
    assert problems == [
        f"Pinpoint refused {what} (403): the API key lacks {named}; in Pinpoint, Settings > "
        f"API Keys, give this key {named}"
    ]


def test_job_without_a_configured_hired_stage(tmp_path: Path, sandbox: Sandbox) -> None:
    job = sandbox.pinpoint.add_job("Closer", "Sales", hired_stage_name="Signed")
    narrow = {"hired_stage_names": ["Hired", "Offer Accepted"]}
    code, problems, _ = check(tmp_path, sandbox, {"pinpoint": narrow})
    assert code == 1
    assert problems == [
        f"Pinpoint job {job} (Closer) has no hired stage among its stages (Applied, Review, "
        "Interview, Offer, Rejected, Signed): add its hired stage's name to "
        "pinpoint.hired_stage_names"
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
