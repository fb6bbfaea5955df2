"""Request bodies and constants shared by the sandbox contract tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from poller.sandbox import Sandbox

NOW = datetime(2025, 2, 19, 9, 30, tzinfo=UTC)
ALL_VISIBILITY = "external,internal,private_job,confidential"


def employee(email: str, **work: str) -> dict[str, object]:
    """A valid POST /people body."""
    return {
        "firstName": "Brian",
        "surname": "Farrell",
        "email": email,
        "work": {"site": "London", "startDate": "2025-03-03", **work},
    }


def search_body(email: str, show_inactive: bool = True) -> dict[str, object]:
    return {
        "fields": ["root.id", "root.email", "internal.lifecycleStatus"],
        "filters": [{"fieldPath": "root.email", "operator": "equals", "values": [email]}],
        "showInactive": show_inactive,
    }


def start_of_window(sb: Sandbox) -> None:
    """Jump the clock to just after a rate-limit window opens, so a test never straddles two."""
    sb.clock.advance(60 - sb.clock.epoch() % 60 + 0.01)
