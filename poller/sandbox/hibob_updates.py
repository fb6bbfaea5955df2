"""HiBob's writes to an existing employee (hibob.md "After the create: changing an employee").

- POST /employees/{id}/start-date: {"startDate": "YYYY-MM-DD", "reason"?: text}. 200 with no
  body. 400 for a missing or invalid startDate, and, while `start_date_after_start` is "refuse",
  for an employee whose start date has come (key "employee.start-date.already-started").
- PUT /people/{id}: plain fields, nested as search answers them ({"firstName", "surname"}).
  200 with no body when something changed; 304 with no body when nothing did, which is also
  the answer to a wrong field id or shape (a "root" wrapper, historical work.* fields, unknown
  keys, values that are not text).
- PUT /people/{id}/email: {"email"}. 200 with no body; the change sends an invitation.

Each is a 404 for an unknown employee, and a 400 for a body that is not JSON. Every applied
change is audited (audit.EmployeeChange), so a lost response still counts.
"""

from __future__ import annotations

from typing import Any, Protocol

from .audit import Audit, EmployeeChange
from .clock import SimClock
from .hibob_errors import HibobRejection
from .routing import Request, Response


class HibobSim(Protocol):
    """What these handlers use of the HiBob simulator (hibob.py), which passes itself."""

    audit: Audit
    clock: SimClock

    def rejected(self, rejection: HibobRejection) -> Response: ...
    def json_body(self, request: Request) -> Any: ...
    def require_employee(self, employee_id: str) -> None: ...
    def change_start_date(self, employee_id: str, payload: Any) -> tuple[str | None, str]: ...
    def update_person(self, employee_id: str, payload: Any) -> dict[str, tuple[str, str]]: ...
    def change_email(self, employee_id: str, payload: Any) -> tuple[str, str]: ...


def _audit(
    sim: HibobSim,
    kind: str,
    employee_id: str,
    old: dict[str, str | None],
    new: dict[str, str | None],
    *,
    reason: str | None = None,
) -> None:
    moment = sim.clock.now().isoformat(timespec="milliseconds")
    sim.audit.employee_changed(EmployeeChange(kind, employee_id, old, new, reason, moment))


def change_start_date(sim: HibobSim, request: Request) -> Response:
    employee_id = request.params["id"]
    try:
        sim.require_employee(employee_id)
        body = sim.json_body(request)
        old, new = sim.change_start_date(employee_id, body)
    except HibobRejection as rejection:
        return sim.rejected(rejection)
    reason = body.get("reason")
    _audit(sim, "start_date", employee_id, {"startDate": old}, {"startDate": new}, reason=reason)
    return Response(200)


def update_person(sim: HibobSim, request: Request) -> Response:
    employee_id = request.params["id"]
    try:
        sim.require_employee(employee_id)
        changes = sim.update_person(employee_id, sim.json_body(request))
    except HibobRejection as rejection:
        return sim.rejected(rejection)
    if not changes:
        return Response(304)
    old: dict[str, str | None] = {name: before for name, (before, _) in changes.items()}
    new: dict[str, str | None] = {name: after for name, (_, after) in changes.items()}
    _audit(sim, "name", employee_id, old, new)
    return Response(200)


def change_email(sim: HibobSim, request: Request) -> Response:
    employee_id = request.params["id"]
    try:
        sim.require_employee(employee_id)
        old, new = sim.change_email(employee_id, sim.json_body(request))
    except HibobRejection as rejection:
        return sim.rejected(rejection)
    _audit(sim, "email", employee_id, {"email": old}, {"email": new})
    return Response(200)
