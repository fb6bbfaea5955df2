"""Seeded sample data: names, ids, the default jobs, and the seeding of a whole world.

Everything is drawn from `random.Random` objects seeded from the sandbox seed and timed from the
clock's start, so a seed gives the same world every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .hibob_state import HibobState
    from .pinpoint_state import PinpointState

FIRST_NAMES = (
    "Brian",
    "Aisha",
    "Chen",
    "Dana",
    "Elif",
    "Farah",
    "George",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Farrell",
    "Okafor",
    "Lindqvist",
    "Whitfield",
    "Nakamura",
    "Haddad",
    "Moreau",
    "Kowalski",
    "Silva",
    "Brennan",
    "Achebe",
    "Novak",
    "Park",
    "Rahman",
    "Schmidt",
    "Torres",
    "Varga",
    "Walsh",
    "Yilmaz",
    "Zhou",
)

LONDON = "London, United Kingdom"
NEW_YORK = "New York, United States"
# (name, basic_type), then the job's hired stage (basic type "hired", its name set per job).
STANDARD_STAGES = (
    ("Applied", "applied"),
    ("Review", "review"),
    ("Interview", "interview"),
    ("Offer", "offer"),
    ("Rejected", "rejected"),
)
# A [mapping] config section that maps every hire of this world (design.md's example).
MAPPING: dict[str, object] = {
    "site_map": {LONDON: "London", NEW_YORK: "New York"},
    "default_site": "London",
    "department_map": {"Product": "Engineering"},
}


@dataclass(frozen=True)
class JobSpec:
    title: str
    department: str
    location: str
    visibility: str
    hired_stage: str = "Hired"


# Mappable with design.md's example config: both locations are in site_map, and "Product" is in
# department_map. One job renames its hired stage; two are confidential.
DEFAULT_JOBS = (
    JobSpec("Backend Engineer", "Engineering", LONDON, "external"),
    JobSpec("Product Manager", "Product", NEW_YORK, "external"),
    JobSpec("Account Executive", "Sales", LONDON, "internal", hired_stage="Offer Accepted"),
    JobSpec("Head of Security", "Engineering", LONDON, "confidential"),
    JobSpec("Data Engineer", "Engineering", NEW_YORK, "private_job"),
    JobSpec("Sales Director", "Sales", NEW_YORK, "confidential"),
)


class Ids:
    """Sequential string ids per kind, from realistic-looking starting points."""

    START: ClassVar[dict[str, int]] = {
        "location": 4,
        "department": 9,
        "job": 17,
        "stage": 301,
        "application": 8863902,
        "offer": 55,
        "comment": 9001,
    }

    def __init__(self) -> None:
        self._next = dict(self.START)

    def next(self, kind: str) -> str:
        value = self._next[kind]
        self._next[kind] = value + 1
        return str(value)


class People:
    """Unique names and emails from the seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def reserve(self, email: str) -> None:
        self._used.add(email.strip().casefold())

    def person(self) -> tuple[str, str, str]:
        first, last = self._rng.choice(FIRST_NAMES), self._rng.choice(LAST_NAMES)
        local, serial = f"{first}.{last}".lower(), 1
        email = f"{local}@example.com"
        while email in self._used:
            serial += 1
            email = f"{local}{serial}@example.com"
        self._used.add(email)
        return first, last, email


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
