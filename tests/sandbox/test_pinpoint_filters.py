"""GET /applications' filters and paging, and the switches for what pinpoint.md leaves unknown."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import ALL_VISIBILITY, assert_jsonapi_error, ids, list_apps

EVERY = {"filter[job_visibility]": ALL_VISIBILITY}


def refused(sb: Sandbox, pp: requests.Session, **params: Any) -> requests.Response:
    return pp.get(f"{sb.pinpoint_url}/applications", params=params)


def test_default_page_is_100_and_the_maximum_1000(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.seed_hires(120)
    url = f"{sb.pinpoint_url}/applications"
    counted = pp.get(url, params={"stats[total]": "count"}).json()
    assert len(counted["data"]) == 100
    assert counted["meta"]["stats"]["total"]["count"] > 100
    assert len(pp.get(url, params={"page[size]": 1000}).json()["data"]) > 100
    assert_jsonapi_error(pp.get(url, params={"page[size]": 1001}), 400, "page[size]")


def test_paging_edges_zero_one_and_hundred_rows(sb: Sandbox, pp: requests.Session) -> None:
    empty = list_apps(sb, pp, **{"filter[job_id]": "999999", "stats[total]": "count"})
    assert empty["data"] == []
    assert empty["meta"]["stats"]["total"]["count"] == 0

    one = list_apps(sb, pp, **{"page[size]": 1, "stats[total]": "count"})
    assert len(one["data"]) == 1
    visible = one["meta"]["stats"]["total"]["count"]

    sb.pinpoint.seed_hires(100 - visible)
    full = list_apps(sb, pp, **{"page[number]": 1, "stats[total]": "count"})
    assert len(full["data"]) == 100
    assert full["meta"]["stats"]["total"]["count"] == 100
    assert list_apps(sb, pp, **{"page[number]": 2})["data"] == []
    assert "links" not in full  # no cursor, no links.next


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page[size]": 1001}, "page[size]"),
        ({"page[size]": 0}, "page[size]"),
        ({"page[number]": 0}, "page[number]"),
        ({"page[size]": "ten"}, "page[size]"),
        ({"stats[total]": "sum"}, "stats[total]"),
        ({"sort": "name"}, "sort"),
        ({"include": "candidate"}, "include"),
        ({"filter[job_visibility]": "secret"}, "filter[job_visibility]"),
        ({"filter[updated_at][gt]": "yesterday"}, "filter[updated_at][gt]"),
        ({"filter[created_at][lt]": "soon"}, "filter[created_at][lt]"),
        ({"filter[stage_basic_type]": "signed"}, "filter[stage_basic_type]"),
        ({"filter[colour]": "blue"}, "filter[colour]"),
        ({"filter[updated_at]": "2025-01-01"}, "filter[updated_at]"),
        ({"filter[updated_at][eq]": "2025-01-01"}, "filter[updated_at][eq]"),
    ],
)
def test_bad_listing_parameters_are_400_naming_them(
    sb: Sandbox, pp: requests.Session, params: dict[str, Any], parameter: str
) -> None:
    assert_jsonapi_error(refused(sb, pp, **params), 400, parameter)


def test_every_unknown_filter_is_named(sb: Sandbox, pp: requests.Session) -> None:
    response = refused(sb, pp, **{"filter[colour]": "blue", "filter[size]": "L"})
    assert_jsonapi_error(response, 400, "filter[colour]")
    assert_jsonapi_error(response, 400, "filter[size]")


def test_pages_cover_every_row_once(sb: Sandbox, pp: requests.Session) -> None:
    everything = ids(list_apps(sb, pp, **EVERY))
    paged: list[str] = []
    for number in range(1, 10):
        page = list_apps(sb, pp, **{"page[number]": number, "page[size]": 5, **EVERY})
        paged += ids(page)
        if len(page["data"]) < 5:
            break
    assert paged == everything
    assert "meta" in page and "stats" not in page["meta"]


def test_confidential_applications_only_when_asked(sb: Sandbox, pp: requests.Session) -> None:
    jobs = sb.pinpoint.jobs
    apps = sb.pinpoint.applications
    confidential = {a.id for a in apps.values() if jobs[a.job_id].visibility == "confidential"}
    assert confidential

    default = set(ids(list_apps(sb, pp)))
    everything = set(ids(list_apps(sb, pp, **EVERY)))
    only = set(ids(list_apps(sb, pp, **{"filter[job_visibility]": "confidential"})))
    assert default == set(apps) - confidential
    assert everything == set(apps)
    assert only == confidential


def stage_types(sb: Sandbox, app_ids: list[str]) -> set[str]:
    apps, stages = sb.pinpoint.applications, sb.pinpoint.stages
    return {stages[apps[i].stage_id].basic_type for i in app_ids}


def test_stage_basic_type_filter_finds_every_hire(sb: Sandbox, pp: requests.Session) -> None:
    hires = list_apps(sb, pp, **{"filter[stage_basic_type]": "hired", **EVERY})
    assert sorted(ids(hires)) == sorted(sb.hired_application_ids())
    assert {"Hired", "Offer Accepted"} == {
        sb.pinpoint.stages[row["attributes"]["stage_id"]].name for row in hires["data"]
    }
    both = ids(list_apps(sb, pp, **{"filter[stage_basic_type]": "offer,hired", **EVERY}))
    assert stage_types(sb, both) == {"offer", "hired"}
    assert set(both) > set(ids(hires))


def test_stage_basic_type_filter_can_be_switched_off(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.configure({"stage_basic_type_filter": False})
    response = refused(sb, pp, **{"filter[stage_basic_type]": "hired"})
    assert_jsonapi_error(response, 400, "filter[stage_basic_type]")
    assert refused(sb, pp).status_code == 200
    assert sb.pinpoint.config()["stage_basic_type_filter"] is False


def test_single_stage_id(sb: Sandbox, pp: requests.Session) -> None:
    stage = sb.pinpoint.hired_stage_id("17")
    found = list_apps(sb, pp, **{"filter[stage_id]": stage})
    assert found["data"]
    assert {row["attributes"]["stage_id"] for row in found["data"]} == {stage}


def test_a_stage_id_list_is_refused_by_default(sb: Sandbox, pp: requests.Session) -> None:
    listed = ",".join(sb.pinpoint.hired_stage_id(j) for j in ("17", "18"))
    assert sb.pinpoint.config()["stage_id_list"] == "reject"
    assert_jsonapi_error(refused(sb, pp, **{"filter[stage_id]": listed}), 400, "filter[stage_id]")


def test_a_stage_id_list_can_be_ignored_whole(sb: Sandbox, pp: requests.Session) -> None:
    listed = ",".join(sb.pinpoint.hired_stage_id(j) for j in ("17", "18"))
    sb.pinpoint.configure({"stage_id_list": "ignore"})
    ignored = ids(list_apps(sb, pp, **{"filter[stage_id]": listed, **EVERY}))
    assert ignored == ids(list_apps(sb, pp, **EVERY))  # every stage matches
    single = sb.pinpoint.hired_stage_id("17")
    assert stage_types(sb, ids(list_apps(sb, pp, **{"filter[stage_id]": single}))) == {"hired"}
    with pytest.raises(ValueError, match="stage_id_list"):
        sb.pinpoint.configure({"stage_id_list": "split"})


def test_job_filter(sb: Sandbox, pp: requests.Session) -> None:
    found = list_apps(sb, pp, **{"filter[job_id]": "17"})
    assert found["data"]
    assert {row["attributes"]["job_id"] for row in found["data"]} == {"17"}


def times(body: dict[str, Any], field: str = "updated_at") -> list[datetime]:
    return [datetime.fromisoformat(r["attributes"][field]) for r in body["data"]]


def test_updated_at_gt_lt_and_sort(sb: Sandbox, pp: requests.Session) -> None:
    every = times(list_apps(sb, pp, **EVERY, sort="updated_at"))
    assert every == sorted(every)
    cut = every[len(every) // 2]
    newer = list_apps(
        sb, pp, **EVERY, sort="-updated_at", **{"filter[updated_at][gt]": cut.isoformat()}
    )
    assert times(newer) == sorted((t for t in every if t > cut), reverse=True)
    older = list_apps(sb, pp, **EVERY, **{"filter[updated_at][lt]": cut.isoformat()})
    assert sorted(times(older)) == [t for t in every if t < cut]


def test_created_at_gt_and_lt(sb: Sandbox, pp: requests.Session) -> None:
    created = sorted(times(list_apps(sb, pp, **EVERY), "created_at"))
    cut = created[len(created) // 2]
    window = {
        "filter[created_at][gt]": (cut - timedelta(days=2)).isoformat(),
        "filter[created_at][lt]": cut.isoformat(),
    }
    found = sorted(times(list_apps(sb, pp, **EVERY, **window), "created_at"))
    assert found == [t for t in created if cut - timedelta(days=2) < t < cut]


def test_unescaped_plus_in_time_filter_still_parses(sb: Sandbox, pp: requests.Session) -> None:
    # A client that forgets to escape "+00:00" sends a space after decoding.
    url = f"{sb.pinpoint_url}/applications?filter[updated_at][gt]=2000-01-01T00:00:00+00:00"
    assert pp.get(url).status_code == 200


UNDOCUMENTED = [f"filter[{f}][{op}]" for f in ("updated_at", "created_at") for op in ("gte", "lte")]


@pytest.mark.parametrize("parameter", UNDOCUMENTED)
def test_gte_and_lte_are_refused_by_default(
    sb: Sandbox, pp: requests.Session, parameter: str
) -> None:
    assert sb.pinpoint.config()["gte_filter"] == "reject"
    response = refused(sb, pp, **{parameter: "2025-01-01T00:00:00+00:00"})
    assert_jsonapi_error(response, 400, parameter)


@pytest.mark.parametrize("parameter", UNDOCUMENTED)
def test_gte_and_lte_can_be_ignored(sb: Sandbox, pp: requests.Session, parameter: str) -> None:
    sb.pinpoint.configure({"gte_filter": "ignore"})
    everything = ids(list_apps(sb, pp, **EVERY))
    for value in ("2999-01-01T00:00:00+00:00", "2000-01-01T00:00:00+00:00"):
        assert ids(list_apps(sb, pp, **EVERY, **{parameter: value})) == everything
    # The documented operators still work beside it.
    future = {"filter[updated_at][gt]": "2999-01-01T00:00:00+00:00", parameter: "2000-01-01"}
    assert list_apps(sb, pp, **future)["data"] == []


def test_updated_at_filter_can_be_switched_off(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.set_updated_at_filter(False)
    sb.pinpoint.configure({"gte_filter": "ignore"})  # off means off, whatever the operator
    for op in ("gt", "lt", "gte", "lte"):
        parameter = f"filter[updated_at][{op}]"
        response = refused(sb, pp, **{parameter: "2025-01-01T00:00:00+00:00"})
        assert_jsonapi_error(response, 400, parameter)
    created = {"filter[created_at][gt]": "2000-01-01T00:00:00+00:00"}
    assert refused(sb, pp, **created).status_code == 200
