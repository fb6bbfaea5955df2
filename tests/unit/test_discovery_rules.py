"""Discovery's own rules, with stand-ins for Pinpoint and the ledger: how long the resolved
hired stages are kept, which unlisted hires are checked and flagged, and what is remembered of
a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from poller.config import PinpointSettings, Settings
from poller.discovery import Discovery, with_refusals
from poller.errors import NotFound, RetryableError
from poller.models import Application, HiredStages, RefusedFilter

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def app(app_id: str, basic_type: str | None, stage: str | None = None) -> Application:
    return Application(
        id=app_id,
        first_name="A",
        last_name="B",
        email="a@b.example",
        phone=None,
        updated_at=NOW,
        job_id="17",
        job_title=None,
        department=None,
        location=None,
        offer_start_on=None,
        stage_name=stage,
        stage_basic_type=basic_type,
    )


@dataclass
class FakePinpoint:
    apps: dict[str, Application | Exception] = field(default_factory=dict)
    resolved: int = 0
    fetched: list[str] = field(default_factory=list)

    def resolve_hired_stages(self, names: Any, ids: Any) -> HiredStages:
        self.resolved += 1
        return HiredStages(stage_ids=frozenset({"301"}))

    def get_application(self, app_id: str) -> Application:
        self.fetched.append(app_id)
        found = self.apps[app_id]
        if isinstance(found, Exception):
            raise found
        return found


@dataclass
class FakeLedger:
    candidates: list[str]
    flagged: list[tuple[str, str, bool]] = field(default_factory=list)

    def unhire_candidates(self) -> list[str]:
        return list(self.candidates)

    def flag_unhired(self, app_id: str, stage: str, *, now: datetime, notify: bool) -> bool:
        self.flagged.append((app_id, stage, notify))
        return True


def discovery(pinpoint: FakePinpoint, ledger: FakeLedger, **kw: Any) -> Discovery:
    settings = Settings(pinpoint=PinpointSettings(stage_cache_cycles=3))
    return Discovery(settings, pinpoint, ledger, **kw)  # type: ignore[arg-type]


def test_resolved_stages_are_kept_for_stage_cache_cycles_cycles() -> None:
    pinpoint = FakePinpoint()
    d = discovery(pinpoint, FakeLedger([]))
    resolved_at = []
    for cycle in range(1, 11):
        before = pinpoint.resolved
        assert d.hired_stages().stage_ids == {"301"}
        if pinpoint.resolved > before:
            resolved_at.append(cycle)
    assert resolved_at == [1, 4, 7, 10]


def test_every_unlisted_hire_is_checked_and_only_the_unhired_flagged() -> None:
    pinpoint = FakePinpoint(
        {
            "1": app("1", "hired", "Hired"),  # still hired: missed by the listing, not flagged
            "2": app("2", "rejected", "Rejected"),
            "3": NotFound("gone", api="pinpoint", endpoint="GET /applications/{id}", status=404),
            "4": RetryableError("down", api="pinpoint", endpoint="GET /applications/{id}"),
            "5": app("5", "offer", None),  # no stage name: its basic type names it
        }
    )
    ledger = FakeLedger(["1", "2", "3", "4", "5", "6"])
    flagged = discovery(pinpoint, ledger).find_unhires({"6"}, now=NOW)
    assert pinpoint.fetched == ["1", "2", "3", "4", "5"]  # "6" was listed
    assert ledger.flagged == [
        ("2", "Rejected", False),
        ("3", "deleted", False),
        ("5", "offer", False),
    ]
    assert flagged == 3


@pytest.mark.parametrize(("events", "told"), [(frozenset({"unhired"}), True), (frozenset(), False)])
def test_an_unhire_is_told_when_asked(events: frozenset[str], told: bool) -> None:
    ledger = FakeLedger(["2"])
    d = discovery(FakePinpoint({"2": app("2", "rejected", "Rejected")}), ledger, notify=events)
    d.find_unhires(set(), now=NOW)
    assert ledger.flagged == [("2", "Rejected", told)]


def test_a_refusal_reason_is_kept_to_300_characters() -> None:
    kept = with_refusals({}, (RefusedFilter("sort", "x" * 1000),), NOW)
    assert kept["sort"]["reason"] == "x" * 300
