"""Applications that change over time: moves (now or scheduled), deletion, offers, start_on."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import ALL_VISIBILITY, NOW, assert_jsonapi_error, comment, control, ids, list_apps


def attributes(sb: Sandbox, pp: requests.Session, app_id: str) -> dict[str, Any]:
    response = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"filter[job_visibility]": ALL_VISIBILITY},
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["data"]["attributes"]
    return found


def hires(sb: Sandbox, pp: requests.Session) -> list[str]:
    return ids(list_apps(sb, pp, **{"filter[stage_basic_type]": "hired"}))


def test_moving_in_and_out_of_the_hired_stage(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.pinpoint.add_hire("Ada", "Lovelace", "ada@example.com", stage="Offer")
    assert attributes(sb, pp, app_id)["hired_at"] is None
    hired_time = NOW + timedelta(hours=1)
    sb.pinpoint.move_application(app_id, "hired", updated_at=hired_time)
    moved = attributes(sb, pp, app_id)
    assert datetime.fromisoformat(moved["hired_at"]) == hired_time
    assert moved["updated_at"] == moved["hired_at"]
    assert moved["stage_id"] == sb.pinpoint.hired_stage_id(moved["job_id"])
    assert app_id in hires(sb, pp)

    sb.pinpoint.move_application(app_id, "Rejected", updated_at=hired_time + timedelta(hours=1))
    rejected = attributes(sb, pp, app_id)
    assert rejected["hired_at"] is None  # leaving the hired stage clears it (our assumption)
    assert datetime.fromisoformat(rejected["updated_at"]) == hired_time + timedelta(hours=1)
    assert app_id not in hires(sb, pp)


def test_scheduled_move_applies_when_the_clock_passes(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    before = attributes(sb, pp, app_id)
    when = sb.pinpoint.schedule_move(app_id, "Rejected", after_seconds=600)
    assert [m.application_id for m in sb.pinpoint.scheduled_moves] == [app_id]
    sb.clock.advance(590)
    assert attributes(sb, pp, app_id) == before
    sb.clock.advance(20)
    after = attributes(sb, pp, app_id)
    assert datetime.fromisoformat(after["updated_at"]) == when  # the move's own time
    assert after["hired_at"] is None
    assert app_id not in sb.hired_application_ids()
    assert sb.pinpoint.scheduled_moves == []


def test_scheduled_moves_apply_in_time_order(sb: Sandbox) -> None:
    app_id = sb.pinpoint.add_hire("Bo", "Berg", "bo@example.com", stage="Offer")
    start = sb.clock.now()
    sb.pinpoint.schedule_move(app_id, "hired", at=start + timedelta(seconds=100))
    sb.pinpoint.schedule_move(app_id, "Rejected", at=start + timedelta(seconds=200))
    sb.pinpoint.schedule_move(app_id, "Interview", at=start + timedelta(seconds=50))
    sb.clock.advance(150)
    app = sb.pinpoint.applications[app_id]
    assert app.hired_at is not None and app_id in sb.hired_application_ids()
    sb.clock.advance(100)
    app = sb.pinpoint.applications[app_id]
    assert sb.pinpoint.stages[app.stage_id].name == "Rejected" and app.hired_at is None


def test_scheduled_move_in_real_time(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.pinpoint.add_hire("Cy", "Cole", "cy@example.com", stage="Interview")
    sb.pinpoint.schedule_move(app_id, "hired", after_seconds=1)
    assert app_id not in hires(sb, pp)
    deadline = time.monotonic() + 5
    while app_id not in hires(sb, pp):
        assert time.monotonic() < deadline, "the scheduled move never happened"
        time.sleep(0.1)


def test_schedule_move_checks_its_arguments(sb: Sandbox) -> None:
    app_id = sb.hired_application_ids()[0]
    with pytest.raises(ValueError, match="exactly one"):
        sb.pinpoint.schedule_move(app_id, "Rejected")
    with pytest.raises(KeyError):
        sb.pinpoint.schedule_move(app_id, "Daydreaming", after_seconds=1)
    with pytest.raises(KeyError):
        sb.pinpoint.schedule_move("1", "Rejected", after_seconds=1)


def test_move_routes(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.pinpoint.add_hire("Di", "Dale", "di@example.com", stage="Offer")
    at = (sb.clock.now() + timedelta(seconds=60)).isoformat()
    scheduled = control(sb, "pinpoint", "move", {"application_id": app_id, "at": at})
    assert scheduled.status_code == 200, scheduled.text
    state = control(sb, "pinpoint", "state").json()
    assert state["scheduled_moves"] == [
        {
            "application_id": app_id,
            "stage_id": sb.pinpoint.hired_stage_id(sb.pinpoint.applications[app_id].job_id),
            "at": datetime.fromisoformat(at).replace(microsecond=0).isoformat(),
        }
    ]
    later = {"application_id": app_id, "stage": "Rejected", "after_seconds": 120}
    assert "scheduled_at" in control(sb, "pinpoint", "move", later).json()
    control(sb, "pinpoint", "clock", {"advance": 61})
    assert app_id in hires(sb, pp)
    control(sb, "pinpoint", "clock", {"advance": 60})
    assert app_id not in hires(sb, pp)
    now = {"application_id": app_id, "stage": "hired", "updated_at": "2025-02-20T10:00:00+00:00"}
    assert control(sb, "pinpoint", "move", now).json() == {"ok": True}
    assert attributes(sb, pp, app_id)["hired_at"] == "2025-02-20T10:00:00+00:00"
    both = {"application_id": app_id, "at": at, "after_seconds": 5}
    assert control(sb, "pinpoint", "move", both).status_code == 400


def test_deleted_application_is_gone_everywhere(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    assert pp.post(f"{sb.pinpoint_url}/comments", json=comment(app_id)).status_code == 201
    sb.pinpoint.schedule_move(app_id, "Rejected", after_seconds=5)
    sb.pinpoint.delete_application(app_id)
    url = f"{sb.pinpoint_url}/applications/{app_id}"
    assert_jsonapi_error(pp.get(url, params={"filter[job_visibility]": ALL_VISIBILITY}), 404)
    assert app_id not in ids(list_apps(sb, pp, **{"filter[job_visibility]": ALL_VISIBILITY}))
    assert app_id not in sb.hired_application_ids()
    error = assert_jsonapi_error(pp.post(f"{sb.pinpoint_url}/comments", json=comment(app_id)), 422)
    assert error["detail"] == "Commentable must exist"
    listed = pp.get(f"{sb.pinpoint_url}/comments", params={"filter[commentable_id]": app_id})
    assert listed.json()["data"] == []
    assert sb.pinpoint.scheduled_moves == []
    sb.clock.advance(10)  # the dropped move does not bring it back
    assert app_id not in sb.pinpoint.applications
    with pytest.raises(KeyError):
        sb.pinpoint.delete_application(app_id)


def test_delete_route(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[-1]
    answer = control(sb, "pinpoint", "delete-application", {"application_id": app_id})
    assert answer.json() == {"ok": True}
    assert app_id not in sb.pinpoint.applications
    again = control(sb, "pinpoint", "delete-application", {"application_id": app_id})
    assert again.status_code == 400


def offers(sb: Sandbox, pp: requests.Session, app_id: str) -> list[dict[str, Any]]:
    body = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"include": "offers", "filter[job_visibility]": ALL_VISIBILITY},
    ).json()
    return [r["attributes"] for r in body.get("included", [])]


def test_offers_and_start_on_change(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.pinpoint.add_hire("Ed", "Eve", "ed@example.com", start_date=date(2025, 3, 3))
    offer_id = sb.pinpoint.applications[app_id].offers[0].id
    before = attributes(sb, pp, app_id)["updated_at"]
    sb.clock.advance(60)
    sb.pinpoint.update_offer(offer_id, status="withdrawn")
    new_offer = sb.pinpoint.add_offer(app_id, "2025-04-01", "accepted")
    assert offers(sb, pp, app_id) == [
        {"start_on": "2025-03-03", "status": "withdrawn"},
        {"start_on": "2025-04-01", "status": "accepted"},
    ]
    assert attributes(sb, pp, app_id)["updated_at"] > before  # changes touch the application
    sb.pinpoint.update_offer(new_offer, start_on="2025-04-08", touch=False)
    assert offers(sb, pp, app_id)[1]["start_on"] == "2025-04-08"
    sb.pinpoint.set_start_on(app_id, "2025-05-01")
    assert attributes(sb, pp, app_id)["start_on"] == "2025-05-01"
    sb.pinpoint.set_start_on(app_id, None)
    assert attributes(sb, pp, app_id)["start_on"] is None
    with pytest.raises(ValueError, match="status"):
        sb.pinpoint.update_offer(new_offer, status="maybe")
    with pytest.raises(KeyError):
        sb.pinpoint.update_offer("1", status="declined")


def test_offer_and_start_on_routes(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.pinpoint.add_hire("Flo", "Fay", "flo@example.com")
    added = control(sb, "pinpoint", "offers", {"application_id": app_id, "start_on": "2025-03-03"})
    offer_id = added.json()["id"]
    assert offers(sb, pp, app_id) == [{"start_on": "2025-03-03", "status": "pending"}]
    changed = control(sb, "pinpoint", "offers", {"offer_id": offer_id, "status": "accepted"})
    assert changed.json() == {"ok": True}
    assert offers(sb, pp, app_id) == [{"start_on": "2025-03-03", "status": "accepted"}]
    bad = control(sb, "pinpoint", "offers", {"offer_id": offer_id, "status": "signed"})
    assert bad.status_code == 400
    body = {"application_id": app_id, "start_on": "2025-06-01"}
    assert control(sb, "pinpoint", "start-on", body).json() == {"ok": True}
    assert attributes(sb, pp, app_id)["start_on"] == "2025-06-01"


def test_hires_route_takes_offers_and_start_on(sb: Sandbox, pp: requests.Session) -> None:
    spec = {
        "first": "Gil",
        "last": "Gray",
        "email": "gil@example.com",
        "offers": [{"start_on": "2025-03-03", "status": "declined"}],
        "start_date": "2025-03-10",
        "start_on": "2025-03-17",
    }
    (app_id,) = control(sb, "pinpoint", "hires", {"hires": [spec]}).json()["ids"]
    assert offers(sb, pp, app_id) == [
        {"start_on": "2025-03-03", "status": "declined"},
        {"start_on": "2025-03-10", "status": "accepted"},
    ]
    assert attributes(sb, pp, app_id)["start_on"] == "2025-03-17"
    bad = {"hires": [{**spec, "offers": [{"start_on": "2025-03-03", "status": "maybe"}]}]}
    assert control(sb, "pinpoint", "hires", bad).status_code == 400
