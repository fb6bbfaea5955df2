"""HiBob's state: employees, their documents, and the company lists. Thread-safe.

Validation lives here, so the Python API and HTTP share one set of rules.
"""

from __future__ import annotations

import copy
import random
import re
import threading
from datetime import date, datetime, timedelta
from typing import Any

from .clock import SimClock
from .records import Document, Employee, ListItem

LIFECYCLES = ("employed", "hired", "terminated")
INACTIVE = frozenset({"hired", "terminated"})  # seen by search only with showInactive
REQUIRED = ("firstName", "surname", "email", "work.site", "work.startDate")
LIST_FIELDS = {"work.site": "site", "work.department": "department", "work.title": "title"}
DOCUMENT_LIMIT_BYTES = 5 * 1024 * 1024
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class HibobRejection(Exception):
    """A request HiBob refuses: becomes {"key": key, "error": message} with `status`."""

    def __init__(self, key: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.key, self.message, self.status = key, message, status


def _item(ident: int, name: str, *children: ListItem, archived: bool = False) -> ListItem:
    return ListItem(str(ident), name, archived, list(children))


def default_named_lists() -> dict[str, list[ListItem]]:
    return {
        "site": [
            _item(208751, "London"),
            _item(208752, "New York"),
            _item(208753, "Berlin"),
            _item(208754, "Paris", archived=True),
        ],
        "department": [
            _item(310001, "Engineering", _item(310011, "Platform"), _item(310012, "Data")),
            _item(310002, "Sales", _item(310021, "Sales EMEA")),
            _item(310003, "Marketing"),
            _item(310004, "People"),
            _item(310005, "Legacy Operations", archived=True),
        ],
    }


def lookup(fields: dict[str, Any], path: str) -> Any:
    """A dotted field path in the nested payload; "root." names top-level fields."""
    node: Any = fields
    for part in path.removeprefix("root.").split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


class HibobState:
    def __init__(self, seed: int, clock: SimClock) -> None:
        self.seed = seed
        self.clock = clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"{seed}:hibob")
        self._employees: dict[str, Employee] = {}
        self._by_email: dict[str, str] = {}  # case-folded email -> id
        self._documents: dict[int, Document] = {}
        self._next_document = 15587714
        self._lists = default_named_lists()
        self.lag_seconds = 0.0
        self.forbidden = False
        self.documents_shape = "spec"

    # -- snapshots --

    @property
    def employees(self) -> dict[str, Employee]:
        with self._lock:
            return copy.deepcopy(self._employees)

    @property
    def documents(self) -> list[Document]:
        with self._lock:
            return copy.deepcopy(list(self._documents.values()))

    def documents_of(self, employee_id: str) -> list[Document]:
        with self._lock:
            return [
                copy.deepcopy(d) for d in self._documents.values() if d.employee_id == employee_id
            ]

    def find_employee(self, email: str) -> Employee | None:
        """By email, ignoring case, lag and lifecycle (a test's view, not the API's)."""
        with self._lock:
            found = self._by_email.get(email.strip().casefold())
            return copy.deepcopy(self._employees[found]) if found else None

    def named_list(self, name: str) -> list[ListItem] | None:
        with self._lock:
            items = self._lists.get(name)
            return copy.deepcopy(items) if items is not None else None

    def list_values(self, name: str) -> list[str]:
        """Active item names of a list, children included, archived subtrees left out."""
        with self._lock:
            return [
                i.name
                for top in self._lists.get(name, [])
                if not top.archived
                for i in top.walk()
                if not i.archived
            ]

    @property
    def sites(self) -> list[str]:
        return self.list_values("site")

    @property
    def departments(self) -> list[str]:
        return self.list_values("department")

    # -- settings --

    def set_lag(self, seconds: float) -> None:
        """Search misses employees created less than `seconds` ago."""
        if seconds < 0:
            raise ValueError("lag can't be negative")
        self.lag_seconds = float(seconds)

    def set_forbidden(self, forbidden: bool) -> None:
        """Every credential gets 403 (except on /company/people/fields)."""
        self.forbidden = forbidden

    def set_documents_shape(self, shape: str) -> None:
        """'spec': {documentName, downloadLink}; 'client': {doc: {id, name, tags}}."""
        if shape not in ("spec", "client"):
            raise ValueError("documents shape is 'spec' or 'client'")
        self.documents_shape = shape

    def set_title_list(self, titles: list[str] | None) -> None:
        """Make work.title a checked list (None: titles are free text)."""
        with self._lock:
            if titles is None:
                self._lists.pop("title", None)
            else:
                self._lists["title"] = [_item(400001 + i, t) for i, t in enumerate(titles)]

    # -- writes --

    def add_employee(
        self,
        first: str,
        last: str,
        email: str,
        *,
        site: str = "London",
        department: str = "Engineering",
        title: str | None = None,
        start_date: date | None = None,
        lifecycle: str = "employed",
    ) -> str:
        """An employee who existed before the simulation: no lag, no list checks. Returns id."""
        if lifecycle not in LIFECYCLES:
            raise ValueError(f"lifecycle must be one of {', '.join(LIFECYCLES)}")
        start = start_date or (self.clock.start - timedelta(days=400)).date()
        work = {"site": site, "department": department, "startDate": start.isoformat()}
        if title:
            work["title"] = title
        fields = {"firstName": first, "surname": last, "email": email, "work": work}
        with self._lock:
            if email.strip().casefold() in self._by_email:
                raise ValueError(f"an employee with email {email} exists")
            return self._insert(fields, lifecycle, created_at=None).id

    def create(self, payload: Any) -> Employee:
        """POST /people: validate, insert as lifecycle "hired", and return a copy."""
        if not isinstance(payload, dict):
            raise HibobRejection("validations.invalid.body", "The body must be a JSON object")
        for path in REQUIRED:
            value = lookup(payload, path)
            if not isinstance(value, str) or not value.strip():
                raise HibobRejection("validations.required", f"Field '{path}' is required")
        start = lookup(payload, "work.startDate")
        if not _DATE.match(start) or not _valid_date(start):
            raise HibobRejection(
                "validations.date.invalid",
                f"Field 'work.startDate' must be YYYY-MM-DD, got '{start}'",
            )
        email = payload["email"].strip()
        if not _EMAIL.match(email):
            raise HibobRejection("validations.email.invalid", f"'{email}' is not a valid email")
        with self._lock:
            for path, list_name in LIST_FIELDS.items():
                value = lookup(payload, path)
                if value is not None and list_name in self._lists:
                    self._check_list(path, list_name, value)
            if email.casefold() in self._by_email:
                raise HibobRejection(
                    "validations.email.alreadyexists",
                    f"An employee with email {email} already exists",
                )
            fields = copy.deepcopy(payload)
            fields["email"] = email
            return copy.deepcopy(self._insert(fields, "hired", created_at=self.clock.now()))

    def search(self, path: str | None, values: list[str], show_inactive: bool) -> list[Employee]:
        """POST /people/search's matching: one equals filter (or none), lag and lifecycle."""
        wanted = {v.strip().casefold() for v in values}
        now = self.clock.now()
        with self._lock:
            found = []
            for employee in self._employees.values():
                if employee.lifecycle in INACTIVE and not show_inactive:
                    continue
                created = employee.created_at
                if created is not None and (now - created).total_seconds() < self.lag_seconds:
                    continue
                if path == "root.id" and employee.id.casefold() not in wanted:
                    continue
                if path == "root.email" and employee.email.strip().casefold() not in wanted:
                    continue
                found.append(copy.deepcopy(employee))
            return found

    def add_document(
        self,
        employee_id: str,
        *,
        folder: str,
        name: str,
        tags: list[str],
        content: bytes,
        content_type: str,
        source: str,
    ) -> Document:
        if len(content) > DOCUMENT_LIMIT_BYTES:
            raise HibobRejection(
                "validations.document.too.large",
                "A document is at most 5 MB",
                status=413 if source == "upload" else 400,
            )
        with self._lock:
            self.require_employee(employee_id)
            document = Document(
                self._next_document,
                employee_id,
                folder,
                name,
                list(tags),
                content,
                content_type,
                source,
                self.clock.now(),
            )
            self._next_document += 1
            self._documents[document.id] = document
            return copy.deepcopy(document)

    def document(self, document_id: int) -> Document | None:
        with self._lock:
            found = self._documents.get(document_id)
            return copy.deepcopy(found) if found else None

    def require_employee(self, employee_id: str) -> None:
        with self._lock:
            if employee_id not in self._employees:
                raise HibobRejection("employee.not.found", f"Employee {employee_id} not found", 404)

    # -- internals (lock held) --

    def _check_list(self, path: str, list_name: str, value: Any) -> None:
        active = [
            i
            for top in self._lists[list_name]
            if not top.archived
            for i in top.walk()
            if not i.archived
        ]
        if not any(value in (i.name, i.id) for i in active):
            raise HibobRejection(
                "validations.list.invalid",
                f"Value '{value}' of '{path}' is not in list '{list_name}'",
            )

    def _insert(
        self, fields: dict[str, Any], lifecycle: str, created_at: datetime | None
    ) -> Employee:
        ident = str(self._rng.randrange(10**18, 10**19))  # 19 digits, as HiBob's
        while ident in self._employees:
            ident = str(self._rng.randrange(10**18, 10**19))
        employee = Employee(ident, fields, lifecycle, created_at)
        self._employees[ident] = employee
        self._by_email[employee.email.strip().casefold()] = ident
        return employee


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
