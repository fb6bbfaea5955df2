"""A record of every request the simulators answered, and of the writes they applied.

Domain counts (employees created, documents, comments, and HiBob's changes to an existing
employee: start date, name, email) are counted when the write is applied, not from the status
sent: a "lost response" fault answers 502 yet the write happened.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOG_SIZE = 10_000  # the request log is bounded; the counters are not


@dataclass(frozen=True)
class AuditEntry:
    api: str
    method: str
    route: str  # the endpoint template, or "(unmatched)"
    path: str  # never the query string: signed CV links carry credentials there
    status: int
    time: str  # ISO-8601, simulation clock
    duration_ms: float


# Counter key: (api, method, route, status)
_Key = tuple[str, str, str, int]
CHANGE_KINDS = ("start_date", "name", "email")


@dataclass(frozen=True)
class EmployeeChange:
    """A change HiBob applied to an existing employee; an email change sends an invitation."""

    kind: str  # one of CHANGE_KINDS
    employee_id: str
    old: dict[str, str | None]  # the changed fields only: {"startDate": ...}, {"firstName": ...}
    new: dict[str, str | None]
    reason: str | None  # the start date's free-text reason
    time: str  # ISO-8601, simulation clock


@dataclass(frozen=True)
class AuditSnapshot:
    """A consistent copy of the audit at one moment; tests assert on it."""

    entries: tuple[AuditEntry, ...]
    counts: dict[_Key, int]
    employees_created: dict[str, int]
    documents: dict[str, int]
    comments: dict[str, int]
    changes: tuple[EmployeeChange, ...] = ()

    def employees_created_per_email(self) -> dict[str, int]:
        """Successful creates per email, case-folded."""
        return dict(self.employees_created)

    def documents_per_employee(self) -> dict[str, int]:
        return dict(self.documents)

    def comments_per_application(self) -> dict[str, int]:
        return dict(self.comments)

    def employee_changes(
        self, kind: str | None = None, employee_id: str | None = None
    ) -> list[EmployeeChange]:
        """Changes applied to existing employees, oldest first, filtered by kind and employee."""
        return [
            c
            for c in self.changes
            if (kind is None or c.kind == kind)
            and (employee_id is None or c.employee_id == employee_id)
        ]

    def changes_per_employee(self, kind: str) -> dict[str, int]:
        """Applied changes of one kind ("start_date", "name" or "email") per employee id."""
        return dict(Counter(c.employee_id for c in self.changes if c.kind == kind))

    def start_date_writes_per_employee(self) -> dict[str, int]:
        return self.changes_per_employee("start_date")

    def name_writes_per_employee(self) -> dict[str, int]:
        return self.changes_per_employee("name")

    def invitations_per_employee(self) -> dict[str, int]:
        """Email changes, each of which sends the employee an invitation."""
        return self.changes_per_employee("email")

    def requests(
        self, api: str | None = None, endpoint: str | None = None, method: str | None = None
    ) -> int:
        """Requests answered, filtered by api, endpoint ("/people" or "POST /people") and method."""
        if endpoint and " " in endpoint:
            method, endpoint = endpoint.split(" ", 1)
        return sum(
            n
            for (a, m, route, _), n in self.counts.items()
            if (api is None or a == api)
            and (endpoint is None or route == endpoint)
            and (method is None or m == method.upper())
        )

    def write_requests(self, api: str | None = None) -> int:
        return sum(
            n
            for (a, m, _, _), n in self.counts.items()
            if (api is None or a == api) and m in WRITE_METHODS
        )

    def rate_limited(self, api: str | None = None) -> int:
        """429s sent."""
        return self.statuses(api).get(429, 0)

    def statuses(self, api: str | None = None) -> dict[int, int]:
        result: Counter[int] = Counter()
        for (a, _, _, status), n in self.counts.items():
            if api is None or a == api:
                result[status] += n
        return dict(result)

    def requests_by_endpoint(self) -> dict[str, int]:
        """{"hibob POST /people": 3, ...}"""
        result: Counter[str] = Counter()
        for (a, m, route, _), n in self.counts.items():
            result[f"{a} {m} {route}"] += n
        return dict(sorted(result.items()))

    def to_json(self, log_limit: int = 200) -> dict[str, Any]:
        apis = sorted({a for a, _, _, _ in self.counts})
        return {
            "employees_created_per_email": self.employees_created_per_email(),
            "documents_per_employee": self.documents_per_employee(),
            "comments_per_application": self.comments_per_application(),
            "start_date_writes_per_employee": self.start_date_writes_per_employee(),
            "name_writes_per_employee": self.name_writes_per_employee(),
            "invitations_per_employee": self.invitations_per_employee(),
            "employee_changes": [asdict(c) for c in self.changes],
            "write_requests": {"total": self.write_requests()}
            | {api: self.write_requests(api) for api in apis},
            "requests": {"total": self.requests()} | {api: self.requests(api) for api in apis},
            "requests_by_endpoint": self.requests_by_endpoint(),
            "statuses": {str(k): v for k, v in sorted(self.statuses().items())},
            "rate_limited": self.rate_limited(),
            "log": [asdict(e) for e in self.entries[-log_limit:]] if log_limit > 0 else [],
        }


class Audit:
    """Thread-safe recorder, usually shared by both simulators of a Sandbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: deque[AuditEntry] = deque(maxlen=LOG_SIZE)
        self._counts: Counter[_Key] = Counter()
        self._employees: Counter[str] = Counter()
        self._documents: Counter[str] = Counter()
        self._comments: Counter[str] = Counter()
        self._changes: list[EmployeeChange] = []

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._log.append(entry)
            self._counts[(entry.api, entry.method, entry.route, entry.status)] += 1

    def employee_created(self, email: str) -> None:
        with self._lock:
            self._employees[email.strip().casefold()] += 1

    def document_added(self, employee_id: str) -> None:
        with self._lock:
            self._documents[employee_id] += 1

    def comment_added(self, application_id: str) -> None:
        with self._lock:
            self._comments[application_id] += 1

    def employee_changed(self, change: EmployeeChange) -> None:
        if change.kind not in CHANGE_KINDS:
            raise ValueError(f"a change's kind is one of {', '.join(CHANGE_KINDS)}")
        with self._lock:
            self._changes.append(change)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._changes.clear()
            for counter in (self._counts, self._employees, self._documents, self._comments):
                counter.clear()

    def snapshot(self) -> AuditSnapshot:
        with self._lock:
            return AuditSnapshot(
                tuple(self._log),
                dict(self._counts),
                dict(self._employees),
                dict(self._documents),
                dict(self._comments),
                tuple(self._changes),
            )
