"""Stateful Pinpoint and HiBob simulators over real loopback HTTP, for tests, demo and benchmarks.

    from poller.sandbox import Sandbox
    with Sandbox(seed=1, hires=12) as sb:
        sb.pinpoint_url, sb.pinpoint_api_key, sb.hibob_url, sb.hibob_token
        sb.faults("hibob", "POST /people", lose_rate="always", times=1)
        sb.audit().employees_created_per_email()

Each simulator also serves a control plane under /_sandbox/ (see poller.sandbox.control), and
`python -m poller.sandbox` runs both in the foreground. The simulators implement exactly
shared/api/pinpoint.md and hibob.md; each [unknown] there is a setting (see the docstrings of
poller.sandbox.pinpoint and poller.sandbox.hibob).
"""

from .audit import Audit, AuditEntry, AuditSnapshot
from .clock import SimClock
from .faults import HOSTILE_MODES, FaultRule, Faults
from .hibob import HibobSim
from .pinpoint import PinpointSim
from .runner import Sandbox, serve_forever

__all__ = [
    "HOSTILE_MODES",
    "Audit",
    "AuditEntry",
    "AuditSnapshot",
    "FaultRule",
    "Faults",
    "HibobSim",
    "PinpointSim",
    "Sandbox",
    "SimClock",
    "serve_forever",
]
