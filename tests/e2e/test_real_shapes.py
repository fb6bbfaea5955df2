"""Day one against the real APIs' shapes (shared/api/*.md, revised), end to end.

A hire at a confidential job in "New York, United States", department "Product", whose title
HiBob's title list lacks, with an accepted offer starting a month ahead (and a declined one
with a stale date), becomes an employee at the mapped site and department, on that date,
with the title handled as configured. The same holds with the simulators answering each
[unknown] of the contract each way. Real HTTP over loopback, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from poller.discovery import DiscoveryResult
from poller.sandbox import Sandbox
from poller.sandbox.data import NEW_YORK
from tests.e2e.harness import Poller, make_poller

TITLE = "Staff Wizard"  # not in the simulator's title list
UPDATED = "filter[updated_at][gt]"
BASIC_TYPE = "filter[stage_basic_type]"


@dataclass
class World:
    sb: Sandbox
    hire: str
    rehire: str
    start: date


@pytest.fixture
def world() -> Iterator[World]:
    with Sandbox(seed=41, hires=0) as sb:
        start = sb.clock.now().date() + timedelta(days=30)
        job = sb.pinpoint.add_job(TITLE, "Product", NEW_YORK, "confidential")
        hire = sb.pinpoint.add_hire(
            "Nia",
            "Okafor",
            "nia.okafor@example.com",
            job=job,
            cv="pdf",
            offers=[{"start_on": (start - timedelta(days=7)).isoformat(), "status": "declined"}],
            start_date=start,
            start_on=start + timedelta(days=60),
        )
        # A person HiBob already has: the create answers "email already exists".
        sb.hibob.add_employee("Ola", "Berg", "ola.berg@example.com")
        rehire = sb.pinpoint.add_hire("Ola", "Berg", "ola.berg@example.com", job=job, cv=None)
        yield World(sb, hire, rehire, start)


def run(tmp_path: Path, world: World, db_url: str, extra: dict[str, Any] | None = None) -> Poller:
    p = make_poller(tmp_path, world.sb, db_url, extra)
    p.settle()
    return p


def assert_day_one(p: Poller, world: World, title: str | None) -> None:
    row = p.ledger.get(world.hire)
    assert row is not None and row.state == "done", row
    employee = world.sb.hibob.find_employee("nia.okafor@example.com")
    assert employee is not None
    work = employee.fields["work"]
    assert work["site"] == "New York"  # the job's location, through mapping.site_map
    assert work["department"] == "Engineering"  # "Product", through mapping.department_map
    assert work["startDate"] == world.start.isoformat()  # the accepted offer's start_on
    assert work.get("title") == title
    assert (row.start_date, row.start_date_source) == (world.start, "offer")
    rehire = p.ledger.get(world.rehire)
    assert rehire is not None and rehire.state == "done"
    assert rehire.employee_link == "linked_existing"
    audit = world.sb.audit()
    assert audit.employees_created_per_email() == {"nia.okafor@example.com": 1}
    assert audit.documents_per_employee() == {employee.id: 1}
    assert audit.comments_per_application() == {world.hire: 1, world.rehire: 1}


def test_a_title_hibob_lacks_is_left_out_by_default_and_said_in_the_row(
    tmp_path: Path, world: World, db_url: str
) -> None:
    p = run(tmp_path, world, db_url)
    try:
        assert_day_one(p, world, title=None)
        row = p.ledger.get(world.hire)
        assert row is not None and f"work.title {TITLE!r} left out" in (row.mapping_notes or "")
        events = [e for e in p.ledger.events(world.hire) if e.step == "map"]
        assert "title_map" in (events[0].message or "")
    finally:
        p.close()


def test_a_mapped_title_is_sent(tmp_path: Path, world: World, db_url: str) -> None:
    p = run(tmp_path, world, db_url, {"mapping": {"title_map": {TITLE: "engineering manager"}}})
    try:
        assert_day_one(p, world, title="Engineering Manager")  # as HiBob's list spells it
        row = p.ledger.get(world.hire)
        assert row is not None and row.mapping_notes is None
    finally:
        p.close()


def test_a_title_hibob_lacks_can_fail_the_row_instead(
    tmp_path: Path, world: World, db_url: str
) -> None:
    p = run(tmp_path, world, db_url, {"mapping": {"on_unknown_title": "fail"}})
    try:
        row = p.ledger.get(world.hire)
        assert row is not None and row.state == "failed" and row.last_error_step == "map"
        assert f"{TITLE!r} is not in HiBob's title list" in (row.last_error or "")
        assert "mapping.title_map" in (row.last_error or "")
        assert world.sb.hibob.find_employee("nia.okafor@example.com") is None
    finally:
        p.close()


def test_without_an_accepted_offer_the_applications_start_on_is_used(
    tmp_path: Path, db_url: str
) -> None:
    with Sandbox(seed=42, hires=0) as sb:
        own = sb.clock.now().date() + timedelta(days=45)
        app = sb.pinpoint.add_hire(
            "Lea",
            "Roth",
            "lea@example.com",
            start_on=own,
            offers=[{"start_on": (own - timedelta(days=3)).isoformat(), "status": "pending"}],
        )
        bare = sb.pinpoint.add_hire("Max", "Roth", "max@example.com")
        p = make_poller(tmp_path, sb, db_url, {"mapping": {"default_start_offset_days": 21}})
        try:
            p.settle()
            row, other = p.ledger.get(app), p.ledger.get(bare)
            assert row is not None and (row.start_date, row.start_date_source) == (
                own,
                "application",
            )
            default = sb.clock.now().date() + timedelta(days=21)
            assert other is not None
            assert (other.start_date, other.start_date_source) == (default, "default")
            employee = sb.hibob.find_employee("lea@example.com")
            assert employee is not None and employee.fields["work"]["startDate"] == own.isoformat()
        finally:
            p.close()


# Each [unknown] of the contract, each way the simulators can answer it.
UNKNOWNS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # id, Pinpoint simulator settings, HiBob simulator settings, poller config
    ("gte-400", {"gte_filter": "reject"}, {}, {}),
    ("gte-ignored", {"gte_filter": "ignore"}, {}, {}),
    ("stage-id-list-400", {"stage_id_list": "reject"}, {}, {}),
    ("stage-id-list-ignored", {"stage_id_list": "ignore"}, {}, {}),
    # /jobs (used only when stage names narrow the listing) with confidential jobs hidden, or not.
    (
        "jobs-hide-confidential",
        {"jobs_default_visibility": "hide_confidential"},
        {},
        {"pinpoint": {"hired_stage_names": ["Hired"]}},
    ),
    (
        "jobs-list-all",
        {"jobs_default_visibility": "all"},
        {},
        {"pinpoint": {"hired_stage_names": ["Hired"]}},
    ),
    ("lists-items", {}, {"named_list_keys": "items"}, {}),
    ("lists-values", {}, {"named_list_keys": "values"}, {}),
    ("lists-both", {}, {"named_list_keys": "both"}, {}),
    ("upload-answers-document", {}, {"upload_answer": "document"}, {"cv": {"mode": "upload"}}),
    ("upload-answers-empty", {}, {"upload_answer": "empty"}, {"cv": {"mode": "upload"}}),
    ("upload-answers-no-id", {}, {"upload_answer": "no_id"}, {"cv": {"mode": "upload"}}),
    # "Email already exists" in every error shape HiBob documents, and the ones it may send.
    ("errors-key-error-args", {}, {"error_shape": "key_error_args"}, {}),
    ("errors-key-error", {}, {"error_shape": "key_error"}, {}),
    ("errors-goals", {}, {"error_shape": "goals"}, {}),
    ("errors-empty", {}, {"error_shape": "empty"}, {}),
    ("errors-html", {}, {"error_shape": "html"}, {}),
]


@pytest.mark.parametrize("unknown", [u[1:] for u in UNKNOWNS], ids=[u[0] for u in UNKNOWNS])
def test_day_one_whichever_way_the_unknowns_answer(
    tmp_path: Path,
    world: World,
    db_url: str,
    unknown: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    pinpoint, hibob, config = unknown
    world.sb.pinpoint.configure(pinpoint)
    world.sb.hibob.configure(hibob)
    p = run(tmp_path, world, db_url, config)
    try:
        assert_day_one(p, world, title=None)
        assert world.sb.audit().rate_limited() == 0
        # No filter the contract leaves unknown is ever sent, so none is ever refused.
        assert world.sb.audit().statuses("pinpoint").get(400, 0) == 0
    finally:
        p.close()


@pytest.mark.parametrize(
    ("setting", "refused"),
    [
        ({"stage_basic_type_filter": False}, "filter[stage_basic_type]"),
        ({"updated_at_filter": False}, "filter[updated_at][gt]"),
    ],
)
def test_a_refused_filter_is_named_worked_around_and_remembered(
    tmp_path: Path, world: World, db_url: str, setting: dict[str, Any], refused: str
) -> None:
    world.sb.pinpoint.configure(setting)
    p = run(tmp_path, world, db_url)  # the first cycle lists in full; later ones since a time
    try:
        assert_day_one(p, world, title=None)
        late = world.sb.pinpoint.add_hire("Kai", "Lund", "kai.lund@example.com")
        p.settle()
        assert p.ledger.get(late).state == "done"  # type: ignore[union-attr]
        assert refused in p.ledger.get_state()["pinpoint_refused_filters"]
        assert world.sb.audit().statuses("pinpoint").get(400, 0) == 1
    finally:
        p.close()
    # The next run (a new CronJob pod, say) doesn't pay for the refusal again.
    (tmp_path / "again").mkdir()
    again = make_poller(tmp_path / "again", world.sb, db_url)
    try:
        later = world.sb.pinpoint.add_hire("Liv", "Lund", "liv.lund@example.com")
        again.settle()
        assert again.ledger.get(later).state == "done"  # type: ignore[union-attr]
    finally:
        again.close()
    assert world.sb.audit().statuses("pinpoint").get(400, 0) == 1


def test_refusals_learned_in_different_runs_are_all_remembered(
    tmp_path: Path, world: World, db_url: str
) -> None:
    """Each run is a new process (a CronJob pod) that knows only what poller_state says. One
    run learns that the updated_at filter is refused, a later one that the basic-type filter
    is: the run after both sends neither (one listing request, no new 400), rather than paying
    again for the refusal learned first."""
    sb = world.sb

    def pod(name: str) -> tuple[DiscoveryResult, set[str], dict[str, str]]:
        """One run of a fresh poller: what its discovery did, the refusals it leaves in
        poller_state, and the state of each row."""
        folder = tmp_path / name
        folder.mkdir()
        p = make_poller(folder, sb, db_url)
        try:
            result = p.run()
            assert result.ok and result.discovery is not None, result
            raw = p.ledger.get_state().get("pinpoint_refused_filters")
            rows = {r.application_id: r.state for r in p.ledger.rows(limit=0)}
            return result.discovery, set(json.loads(raw) if raw else {}), rows
        finally:
            p.close()

    def refused_requests() -> int:
        return sb.audit().statuses("pinpoint").get(400, 0)

    first, remembered, _ = pod("first")  # the first cycle lists in full: no updated_at filter
    assert (first.reason, remembered, refused_requests()) == ("first cycle", set(), 0)

    sb.pinpoint.configure({"updated_at_filter": False})
    second, remembered, _ = pod("second")  # incremental: refused, then listed again without it
    assert (second.reason, second.requests, refused_requests()) == ("incremental", 2, 1)
    assert remembered == {UPDATED}

    sb.pinpoint.configure({"stage_basic_type_filter": False})
    third, _, _ = pod("third")  # skips the refusal it knows; learns the basic-type one
    assert (third.reason, third.requests, refused_requests()) == ("full listing", 2, 2)

    late = sb.pinpoint.add_hire("Kai", "Lund", "kai.lund@example.com")
    fourth, remembered, rows = pod("fourth")
    assert (fourth.requests, refused_requests()) == (1, 2), "a refused filter was sent again"
    assert remembered == {UPDATED, BASIC_TYPE}
    assert rows[late] == "done"  # listed without either filter, by the stages /jobs names
