"""The default world: jobs, hires, other applicants, and HiBob's existing staff, from a seed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .data import DEFAULT_JOBS
from .hibob_state import HibobState
from .pinpoint_state import PinpointState


def recent(rng: random.Random, now: datetime, max_minutes: int) -> datetime:
    """A time within the last `max_minutes` (at least 5 minutes ago), whole seconds."""
    return (now - timedelta(minutes=rng.randint(5, max_minutes))).replace(microsecond=0)


def seed_world(pinpoint: PinpointState, hibob: HibobState, hires: int) -> None:
    """The default world: jobs, `hires` hires, other applicants, and HiBob's existing staff.

    With hires >= 6 every case is present: a hire on each job (so on both confidential jobs and
    on the "Offer Accepted" job), hires without a CV, an anonymised hire without email (index 4),
    a rehire (index 1) whose email, in other letter case, belongs to a terminated employee,
    hires with an accepted offer, with a declined offer besides the accepted one, with no offer,
    and with only the application's start_on. Other applicants include one at the offer stage
    with a pending offer.
    """
    rng = random.Random(f"{pinpoint.seed}:world")
    now = pinpoint.clock.start
    jobs = [
        pinpoint.add_job(
            s.title, s.department, s.location, s.visibility, s.hired_stage, updated_at=now
        )
        for s in DEFAULT_JOBS
    ]
    people = pinpoint.people

    for _ in range(4):
        first, last, email = people.person()
        hibob.add_employee(
            first,
            last,
            email,
            site=rng.choice(["London", "New York", "Berlin"]),
            department=rng.choice(["Engineering", "Sales", "Marketing", "People"]),
        )

    for i in range(hires):
        first, last, email = people.person()
        cv = ("both", "pdf", "docx", None)[i % 4]
        start = (now + timedelta(days=rng.randint(7, 30))).date()
        # Offers: accepted (i % 3 == 0); declined with a stale date, then accepted (1); none,
        # with the date on the application itself every other time (2).
        offers = (
            [{"start_on": start - timedelta(days=14), "status": "declined"}] if i % 3 == 1 else []
        )
        if i == 1:  # the rehire: HiBob knows this person already, with different letter case
            hibob.add_employee(first, last, email.title(), lifecycle="terminated")
        pinpoint.add_hire(
            first,
            last,
            email,
            job=jobs[i % len(jobs)],
            cv=cv,
            updated_at=recent(rng, now, 48 * 60),
            offers=offers,
            start_date=start if i % 3 != 2 else None,
            start_on=start if i % 6 == 5 else None,
            anonymised=i == 4,
        )

    others = ("Applied", "Review", "Interview", "Offer", "Rejected")
    for i in range(max(5, hires // 2)):
        first, last, email = people.person()
        stage = others[i % len(others)]
        offered = (now + timedelta(days=rng.randint(14, 45))).date()
        pinpoint.add_hire(
            first,
            last,
            email,
            job=jobs[(i * 5 + 1) % len(jobs)],
            cv="pdf" if i % 2 else None,
            stage=stage,
            updated_at=recent(rng, now, 30 * 24 * 60),
            offers=[{"start_on": offered, "status": "pending"}] if stage == "Offer" else [],
        )
