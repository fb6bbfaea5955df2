"""Seeded sample data: names, ids and the default jobs (world.py seeds a whole world from them).

Everything is drawn from `random.Random` objects seeded from the sandbox seed and timed from the
clock's start, so a seed gives the same world every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

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
