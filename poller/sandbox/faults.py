"""Fault injection, set per endpoint at run time and drawn from a seeded RNG.

A rule is keyed by "METHOD /template" (e.g. "POST /people", "GET /applications/{id}") or "*".
A request meets its endpoint's rule and then the "*" rule; latencies add up, and each rule may
fire faults of its own. Knobs (rates are probabilities in [0, 1], or "always" / "never"):

- latency_ms: added before the request is handled.
- error_rate, error_status (default 503): answer a 5xx with an HTML body, or a 4xx with the
  API's own JSON error body (e.g. 422 for a validation failure); nothing is applied.
- stall_rate, stall_seconds (default 15): wait, then handle and answer as usual. Meant to be
  longer than the client's read timeout, so the client gives up while the write may still land.
- lose_rate: handle the request (the write is applied), then answer 502 with an HTML body.
- hostile ("html" | "truncated" | "empty" | "huge"), hostile_rate (default 1): handle the request,
  then replace the answer with a 200 carrying a hostile body.
- times: the rule covers only the next N requests to its endpoint, then disappears.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

HOSTILE_MODES = ("html", "truncated", "empty", "huge")
DEFAULT_STALL_SECONDS = 15.0


def _rate(name: str, value: Any) -> float:
    if value == "always":
        return 1.0
    if value == "never" or value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], 'always' or 'never'")
    return float(value)


@dataclass(frozen=True)
class FaultRule:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    stall_rate: float = 0.0
    stall_seconds: float = DEFAULT_STALL_SECONDS
    lose_rate: float = 0.0
    hostile: str | None = None
    hostile_rate: float = 1.0
    times: int | None = None

    @classmethod
    def from_knobs(cls, knobs: dict[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(knobs) - known)
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(unknown)}")
        values = dict(knobs)
        for name in ("error_rate", "stall_rate", "lose_rate", "hostile_rate"):
            if name in values:
                values[name] = _rate(name, values[name])
        if values.get("hostile") is not None and values["hostile"] not in HOSTILE_MODES:
            raise ValueError(f"hostile must be one of {', '.join(HOSTILE_MODES)}")
        status = values.get("error_status", 503)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("error_status must be a 4xx or 5xx status")
        for name in ("latency_ms", "stall_seconds"):
            value = values.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        times = values.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer")
        return cls(**values)


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    latency_s: float = 0.0
    error_status: int | None = None
    stall_s: float = 0.0
    lose: bool = False
    hostile: str | None = None


class Faults:
    """The fault rules of one simulator. Thread-safe; draws are deterministic per seed."""

    def __init__(self, seed: int, api: str) -> None:
        self._rng = random.Random(f"{seed}:{api}:faults")
        self._rules: dict[str, FaultRule] = {}
        self._lock = threading.Lock()
        self.endpoints: frozenset[str] = frozenset()  # the simulator's "METHOD /template" keys

    def check_endpoint(self, endpoint: str) -> None:
        """A typo'd endpoint would never fire: refuse it, naming the real ones."""
        if endpoint != "*" and self.endpoints and endpoint not in self.endpoints:
            known = ", ".join(sorted(self.endpoints))
            raise ValueError(f"unknown endpoint {endpoint!r}; use '*' or one of: {known}")

    def set(self, endpoint: str = "*", **knobs: Any) -> None:
        """Replace the rule for `endpoint` ("METHOD /template" or "*")."""
        self.check_endpoint(endpoint)
        rule = FaultRule.from_knobs(knobs)
        with self._lock:
            self._rules[endpoint] = rule

    def clear(self, endpoint: str | None = None) -> None:
        """Drop one endpoint's rule, or every rule."""
        with self._lock:
            if endpoint is None:
                self._rules.clear()
            else:
                self._rules.pop(endpoint, None)

    def rules(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {key: asdict(rule) for key, rule in self._rules.items()}

    def _hit(self, rate: float) -> bool:
        # Rates of 0 and 1 draw nothing, so 'always' rules don't shift the random sequence.
        return rate >= 1.0 or (rate > 0.0 and self._rng.random() < rate)

    def draw(self, key: str | None) -> FaultDecision:
        """Decide the faults for one request to endpoint `key` (None: no route matched)."""
        decision = FaultDecision()
        with self._lock:
            for rule_key in [k for k in (key, "*") if k]:
                rule = self._rules.get(rule_key)
                if rule is None:
                    continue
                if rule.times is not None:
                    left = rule.times - 1
                    if left:
                        self._rules[rule_key] = replace(rule, times=left)
                    else:
                        del self._rules[rule_key]
                decision = self._apply(rule, decision)
        return decision

    def _apply(self, rule: FaultRule, decision: FaultDecision) -> FaultDecision:
        latency = decision.latency_s + rule.latency_ms / 1000
        error = decision.error_status
        if error is None and self._hit(rule.error_rate):
            error = rule.error_status
        stall = decision.stall_s
        if not stall and self._hit(rule.stall_rate):
            stall = rule.stall_seconds
        lose = decision.lose or self._hit(rule.lose_rate)
        hostile = decision.hostile
        if hostile is None and rule.hostile is not None and self._hit(rule.hostile_rate):
            hostile = rule.hostile
        return FaultDecision(latency, error, stall, lose, hostile)
