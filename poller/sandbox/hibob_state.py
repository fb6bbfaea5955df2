"""HiBob's state: employees, their documents, and the company lists. Thread-safe.

Validation lives here, so the Python API and HTTP share one set of rules. On create, list
fields (work.title, work.department, work.siteId) must be active items of their lists, by
name or id, exactly; work.site is text matched to a site's name in any letter case, and is
stored as that site's name with its siteId.

After the create (hibob.md "After the create: changing an employee"): the start date
(refused for an employee who already started, unless `start_date_after_start` is "accept"),
the plain name fields (firstName, surname; anything else is ignored, so a body with nothing
applicable changes nothing), and the email. Each change keeps the fields it replaced, so search
can show them until `lag_seconds` have passed since the change.
"""

from __future__ import annotations

import copy
import random
import re
import threading
from datetime import date, datetime, timedelta
from typing import Any

from .clock import SimClock
from .hibob_errors import HibobRejection
from .hibob_lists import active_items, default_named_lists, find_item, title_items
from .records import Document, Employee, ListItem

LIFECYCLES = ("employed", "hired", "terminated")
INACTIVE = frozenset({"hired", "terminated"})  # seen by search only with showInactive
REQUIRED = ("firstName", "surname", "email", "work.site", "work.startDate")
# List-backed fields, checked on create when their list exists (work.site is text: see create).
LIST_FIELDS = {"work.siteId": "site", "work.department": "department", "work.title": "title"}
INVALID = "validations.field.invalid"  # the real key is [unknown]; clients match on the 400
ALREADY_STARTED = "employee.start-date.already-started"  # [unknown] upstream: a 4xx of some kind
START_DATE_MODES = ("refuse", "accept")  # for employees whose start date has come
PLAIN_FIELDS = ("firstName", "surname")  # what PUT /people/{id} changes; the rest is ignored
DOCUMENT_LIMIT_BYTES = 5 * 1024 * 1024
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
        self._documents: dict[str, Document] = {}
        self._next_document = 15587714
        self._lists = default_named_lists()
        self.lag_seconds = 0.0
        self.forbidden = False
        self.documents_shape = "spec"
        self.start_date_after_start = "refuse"

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
            return [i.name for i in active_items(self._lists.get(name, []))]

    @property
    def sites(self) -> list[str]:
        return self.list_values("site")

    @property
    def departments(self) -> list[str]:
        return self.list_values("department")

    # -- settings --

    def set_lag(self, seconds: float) -> None:
        """Search misses employees created less than `seconds` ago, and shows the fields an
        update replaced until `seconds` have passed since it."""
        if seconds < 0:
            raise ValueError("lag can't be negative")
        self.lag_seconds = float(seconds)

    def set_start_date_after_start(self, mode: str) -> None:
        """'refuse': POST /employees/{id}/start-date is a 400 for an employee who started."""
        if mode not in START_DATE_MODES:
            raise ValueError(f"start_date_after_start must be one of {', '.join(START_DATE_MODES)}")
        self.start_date_after_start = mode

    def set_forbidden(self, forbidden: bool) -> None:
        """Every credential gets 403 (except on /company/people/fields)."""
        self.forbidden = forbidden

    def set_documents_shape(self, shape: str) -> None:
        """'spec': {documentName, downloadLink}; 'client': {doc: {id, name, tags}}."""
        if shape not in ("spec", "client"):
            raise ValueError("documents shape is 'spec' or 'client'")
        self.documents_shape = shape

    def set_title_list(self, titles: list[str] | None) -> None:
        """Replace the title list (None: no title list, so titles are free text)."""
        if titles is not None and (
            isinstance(titles, str) or not all(isinstance(t, str) for t in titles)
        ):
            raise ValueError("the title list is a list of names, or None")
        with self._lock:
            if titles is None:
                self._lists.pop("title", None)
            else:
                self._lists["title"] = title_items(list(titles))

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
        work: dict[str, Any] = {
            "site": site,
            "department": department,
            "startDate": start.isoformat(),
        }
        if title:
            work["title"] = title
        fields = {"firstName": first, "surname": last, "email": email, "work": work}
        with self._lock:
            known = find_item(self._lists.get("site", []), site, ignore_case=True)
            if known is not None:
                work["siteId"] = known.id
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
                raise HibobRejection(
                    "validations.required", f"Field '{path}' is required", args=(path,)
                )
        start = lookup(payload, "work.startDate")
        if not _DATE.match(start) or not _valid_date(start):
            raise HibobRejection(
                "validations.date.invalid",
                f"Field 'work.startDate' must be YYYY-MM-DD, got '{start}'",
                args=(start,),
            )
        email = payload["email"].strip()
        if not _EMAIL.match(email):
            raise HibobRejection("validations.email.invalid", f"'{email}' is not a valid email")
        with self._lock:
            fields = copy.deepcopy(payload)
            fields["email"] = email
            self._check_lists(fields)
            if email.casefold() in self._by_email:
                raise HibobRejection(
                    "validations.email.alreadyexists",
                    f"Email {email} already exists",
                    args=(email,),
                )
            return copy.deepcopy(self._insert(fields, "hired", created_at=self.clock.now()))

    def search(self, path: str | None, values: list[str], show_inactive: bool) -> list[Employee]:
        """POST /people/search's matching: one equals filter (or none), lag and lifecycle.

        Reads lag: the employees found carry their fields as they were `lag_seconds` ago.
        """
        wanted = {v.strip().casefold() for v in values}
        now = self.clock.now()
        seen_at = now - timedelta(seconds=self.lag_seconds)
        with self._lock:
            found = []
            for employee in self._employees.values():
                if employee.lifecycle in INACTIVE and not show_inactive:
                    continue
                created = employee.created_at
                if created is not None and (now - created).total_seconds() < self.lag_seconds:
                    continue
                view = Employee(
                    employee.id,
                    copy.deepcopy(employee.fields_as_of(seen_at)),
                    employee.lifecycle,
                    created,
                )
                if path == "root.id" and view.id.casefold() not in wanted:
                    continue
                if path == "root.email" and view.email.strip().casefold() not in wanted:
                    continue
                found.append(view)
            return found

    def change_start_date(self, employee_id: str, payload: Any) -> tuple[str | None, str]:
        """POST /employees/{id}/start-date: validate and apply. Returns (old, new) dates."""
        self.require_employee(employee_id)
        if not isinstance(payload, dict):
            raise HibobRejection("validations.invalid.body", "The body must be a JSON object")
        start, reason = payload.get("startDate"), payload.get("reason")
        if not isinstance(start, str) or not start.strip():
            raise HibobRejection(
                "validations.required", "Field 'startDate' is required", args=("startDate",)
            )
        if not _DATE.match(start) or not _valid_date(start):
            raise HibobRejection(
                "validations.date.invalid",
                f"Field 'startDate' must be YYYY-MM-DD, got '{start}'",
                args=(start,),
            )
        if reason is not None and not isinstance(reason, str):
            raise HibobRejection(INVALID, "Field 'reason' must be text", args=("reason",))
        with self._lock:
            employee = self._employee(employee_id)
            old = employee.start_date
            today = self.clock.now().date()
            started = old is not None and _valid_date(old) and date.fromisoformat(old) <= today
            if started and self.start_date_after_start == "refuse":
                raise HibobRejection(
                    ALREADY_STARTED,
                    f"Employee {employee_id} already started on {old}: "
                    "the start date of an employee who started can't be changed",
                    args=(employee_id, str(old)),
                )
            self._keep_history(employee)
            work = employee.fields.setdefault("work", {})
            work["startDate"] = start
            return old, start

    def update_person(self, employee_id: str, payload: Any) -> dict[str, tuple[str, str]]:
        """PUT /people/{id}: apply the plain fields given; returns {field: (old, new)} changed.

        Anything else (a "root" wrapper, historical fields such as work.startDate, unknown
        keys, values that are not text) is ignored: nothing applicable means nothing changed.
        """
        with self._lock:
            employee = self._employee(employee_id)
            if not isinstance(payload, dict):
                return {}
            changes = {}
            for name in PLAIN_FIELDS:
                value, old = payload.get(name), str(employee.fields.get(name, ""))
                if isinstance(value, str) and value.strip() and value != old:
                    changes[name] = (old, value)
            if changes:
                self._keep_history(employee)
                for name, (_, new) in changes.items():
                    employee.fields[name] = new
            return changes

    def change_email(self, employee_id: str, payload: Any) -> tuple[str, str]:
        """PUT /people/{id}/email: validate and apply. Returns (old, new) emails."""
        self.require_employee(employee_id)
        if not isinstance(payload, dict):
            raise HibobRejection("validations.invalid.body", "The body must be a JSON object")
        email = payload.get("email")
        if not isinstance(email, str) or not email.strip():
            raise HibobRejection(
                "validations.required", "Field 'email' is required", args=("email",)
            )
        email = email.strip()
        if not _EMAIL.match(email):
            raise HibobRejection("validations.email.invalid", f"'{email}' is not a valid email")
        with self._lock:
            employee = self._employee(employee_id)
            owner = self._by_email.get(email.casefold())
            if owner is not None and owner != employee_id:
                raise HibobRejection(
                    "validations.email.alreadyexists",
                    f"Email {email} already exists",
                    args=(email,),
                )
            old = employee.email
            if email != old:
                self._keep_history(employee)
                employee.fields["email"] = email
                self._by_email.pop(old.strip().casefold(), None)
                self._by_email[email.casefold()] = employee_id
            return old, email

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
                str(self._next_document),
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

    def document(self, document_id: str | int) -> Document | None:
        with self._lock:
            found = self._documents.get(str(document_id))
            return copy.deepcopy(found) if found else None

    def require_employee(self, employee_id: str) -> None:
        with self._lock:
            self._employee(employee_id)

    # -- internals (lock held) --

    def _employee(self, employee_id: str) -> Employee:
        found = self._employees.get(employee_id)
        if found is None:
            raise HibobRejection("employee.not.found", f"Employee {employee_id} not found", 404)
        return found

    def _keep_history(self, employee: Employee) -> None:
        """Before changing an employee: keep the fields search shows until the lag has passed."""
        employee.history.append((self.clock.now(), copy.deepcopy(employee.fields)))

    def _check_lists(self, fields: dict[str, Any]) -> None:
        """Refuse list values that are not active items; resolve work.site to its site."""
        for path, list_name in LIST_FIELDS.items():
            value = lookup(fields, path)
            lists = self._lists
            if value is not None and list_name in lists and not find_item(lists[list_name], value):
                raise _invalid(path, value)
        site = find_item(self._lists.get("site", []), fields["work"]["site"], ignore_case=True)
        if site is None:
            raise _invalid("work.site", fields["work"]["site"])
        # Stored as the site's own name and id: "new york" becomes "New York" (recorded).
        fields["work"]["site"], fields["work"]["siteId"] = site.name, site.id

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


def _invalid(path: str, value: Any) -> HibobRejection:
    message = f"'{value}' is not a valid {path} definition"
    return HibobRejection(INVALID, message, args=(str(value), path))


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
