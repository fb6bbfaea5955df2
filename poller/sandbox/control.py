"""The /_sandbox/ control plane both simulators serve (no auth; loopback clients only).

- GET  /_sandbox/audit[?limit=N]   counts, plus the last N request log entries (default 200).
                                   A Sandbox shares one audit, so either simulator answers for both.
- POST /_sandbox/reset-audit
- GET  /_sandbox/faults            the rules in force
- POST /_sandbox/faults            {"endpoint": "POST /people", "error_rate": 1, ...}
                                   or {"rules": {"POST /people": {...}, "*": {...}}}
- POST /_sandbox/reset-faults
- GET  /_sandbox/config, POST /_sandbox/config   simulator-specific settings (see each simulator)
- POST /_sandbox/clock             {"advance": seconds}: move the shared clock forward; Pinpoint's
                                   scheduled moves whose time it passes apply on the next request

Each simulator adds its own routes:
- Pinpoint (pinpoint_control.py): POST hires, move (now, or scheduled with "at" /
  "after_seconds"), delete-application, offers, start-on, candidate, job; GET state.
- HiBob (hibob.py): POST employees; GET state (each employee's names, email, start date, and
  its audited start-date, name and email writes); GET docs/{doc_id} (a stored document's bytes).

Config keys: see the docstrings of pinpoint.py and hibob.py.
"""

from __future__ import annotations

from typing import Any

from .faults import FaultRule
from .routing import Reject, Request, Response, Route, json_response
from .server import SimApp


def bad_request(message: str) -> Reject:
    return Reject(json_response(400, {"error": message}))


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    try:
        body = request.json() if request.body else {}
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def control_routes(app: SimApp) -> list[Route]:
    def audit(request: Request) -> Response:
        try:
            limit = int(request.arg("limit") or 200)
        except ValueError:
            raise bad_request("limit must be a whole number") from None
        return json_response(200, app.audit.snapshot().to_json(limit))

    def reset_audit(_: Request) -> Response:
        app.audit.reset()
        return json_response(200, {"ok": True})

    def get_faults(_: Request) -> Response:
        return json_response(200, {"rules": app.faults.rules()})

    def set_faults(request: Request) -> Response:
        body = json_object(request)
        rules = body.get("rules")
        if rules is None:
            rules = {str(body.pop("endpoint", "*")): body}
        if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
            raise bad_request("rules must map endpoints to knob objects")
        try:
            for endpoint, knobs in rules.items():  # validate them all before setting any
                app.faults.check_endpoint(endpoint)
                FaultRule.from_knobs(knobs)
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        for endpoint, knobs in rules.items():
            app.faults.set(endpoint, **knobs)
        return json_response(200, {"rules": app.faults.rules()})

    def reset_faults(_: Request) -> Response:
        app.faults.clear()
        return json_response(200, {"rules": {}})

    def get_config(_: Request) -> Response:
        return json_response(200, app.config())

    def set_config(request: Request) -> Response:
        try:
            app.configure(json_object(request))
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return json_response(200, app.config())

    def clock(request: Request) -> Response:
        seconds = json_object(request).get("advance", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise bad_request("advance must be a non-negative number of seconds")
        app.clock.advance(seconds)
        return json_response(200, {"now": app.clock.now().isoformat(), "epoch": app.clock.epoch()})

    table = [
        ("GET", "/_sandbox/audit", audit),
        ("POST", "/_sandbox/reset-audit", reset_audit),
        ("GET", "/_sandbox/faults", get_faults),
        ("POST", "/_sandbox/faults", set_faults),
        ("POST", "/_sandbox/reset-faults", reset_faults),
        ("GET", "/_sandbox/config", get_config),
        ("POST", "/_sandbox/config", set_config),
        ("POST", "/_sandbox/clock", clock),
    ]
    return [Route.build(method, path, handler, control=True) for method, path, handler in table]
