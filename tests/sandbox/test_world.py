"""The seeded world has every case the poller must handle, and maps with design.md's config."""

from __future__ import annotations

from datetime import timedelta

from poller.sandbox import Sandbox

from .helpers import NOW

SITE_MAP = {"London, United Kingdom": "London", "New York, United States": "New York"}


def test_seeded_world_has_every_case() -> None:
    sb = Sandbox(seed=3, hires=12, now=NOW)  # state only: no ports needed
    pp, bob = sb.pinpoint, sb.hibob
    jobs, stages, locations, apps = pp.jobs, pp.stages, pp.locations, pp.applications
    departments = {j.id: pp.departments[j.department_id].name for j in jobs.values()}
    hires = [apps[i] for i in sb.hired_application_ids()]
    assert len(hires) == 12

    assert {jobs[h.job_id].visibility for h in hires} >= {"confidential", "external"}
    assert any(stages[h.stage_id].name == "Offer Accepted" for h in hires)
    assert any(not h.attachments for h in hires)
    assert any(h.offers for h in hires) and any(not h.offers for h in hires)
    statuses = [[o.status for o in h.offers] for h in hires]
    assert ["accepted"] in statuses and ["declined", "accepted"] in statuses
    assert all(o.start_on for h in hires for o in h.offers)
    assert any(h.start_on and not h.offers for h in hires)  # only the application's date
    assert all(h.hired_at == h.updated_at for h in hires)
    offered = [a for a in apps.values() if stages[a.stage_id].basic_type == "offer"]
    assert offered and all([o.status for o in a.offers] == ["pending"] for a in offered)
    assert all(a.hired_at is None for a in apps.values() if not stages[a.stage_id].hired)
    anonymised = [h for h in hires if h.email is None]
    assert len(anonymised) == 1 and anonymised[0].first_name == "Candidate"
    assert all(NOW - timedelta(days=2) <= h.updated_at <= NOW for h in hires)

    emails = {h.email.casefold() for h in hires if h.email}
    rehires = [e for e in bob.employees.values() if e.email.casefold() in emails]
    assert len(rehires) == 1 and rehires[0].lifecycle == "terminated"
    assert rehires[0].email not in {h.email for h in hires}  # other letter case

    assert {locations[j.location_id].name for j in jobs.values()} <= set(SITE_MAP)
    assert set(SITE_MAP.values()) <= set(bob.sites)
    assert set(departments.values()) == {"Engineering", "Product", "Sales"}
    mapped = {"Product": "Engineering"}
    assert {mapped.get(d, d) for d in departments.values()} <= set(bob.departments)


def test_more_hires_on_demand() -> None:
    sb = Sandbox(seed=3, hires=0, now=NOW)
    assert sb.hired_application_ids() == []
    new = sb.pinpoint.seed_hires(5) + sb.pinpoint.seed_hires(2, confidential=True)
    assert sorted(sb.hired_application_ids()) == sorted(new)
    emails = [a.email for a in sb.pinpoint.applications.values()]
    assert len(emails) == len(set(emails))
