"""Fault knobs: 5xx, stalls, lost responses, hostile bodies, latency; per endpoint and seeded."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import NOW, employee


def create(sb: Sandbox, bob: requests.Session, email: str, **kwargs: Any) -> requests.Response:
    return bob.post(f"{sb.hibob_url}/people", json=employee(email), **kwargs)


def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_5xx_with_html_applies_nothing(sb: Sandbox, bob: requests.Session) -> None:
    sb.faults("hibob", "POST /people", error_rate="always", times=1)
    failed = create(sb, bob, "a@example.com")
    assert failed.status_code == 503
    assert failed.headers["Content-Type"].startswith("text/html")
    assert failed.text.lstrip().startswith("<html>")
    assert sb.hibob.find_employee("a@example.com") is None
    assert create(sb, bob, "a@example.com").status_code == 200  # `times` used up


def test_error_status_is_configurable(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.faults.set("GET /applications/{id}", error_rate=1.0, error_status=500)
    assert pp.get(f"{sb.pinpoint_url}/applications/8863902").status_code == 500
    assert pp.get(f"{sb.pinpoint_url}/applications").status_code == 200  # other endpoints


def test_lost_response_still_applies_the_write(sb: Sandbox, bob: requests.Session) -> None:
    sb.faults("hibob", "POST /people", lose_rate="always", times=1)
    lost = create(sb, bob, "lost@example.com")
    assert lost.status_code == 502
    assert lost.headers["Content-Type"].startswith("text/html")
    assert sb.hibob.find_employee("lost@example.com") is not None
    retry = create(sb, bob, "lost@example.com")
    assert retry.json()["key"] == "validations.email.alreadyexists"
    assert sb.audit().employees_created_per_email() == {"lost@example.com": 1}


def test_a_4xx_fault_answers_the_apis_json_error_and_applies_nothing(
    sb: Sandbox, pp: requests.Session
) -> None:
    sb.faults("pinpoint", "POST /comments", error_rate="always", error_status=422, times=1)
    app_id = sb.hired_application_ids()[0]
    body = {
        "data": {
            "type": "comments",
            "attributes": {"body_text": "hi"},
            "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
        }
    }
    resp = pp.post(f"{sb.pinpoint_url}/comments", json=body)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["status"] == "422"
    assert sb.audit().comments_per_application() == {}
    assert pp.post(f"{sb.pinpoint_url}/comments", json=body).status_code == 201  # times=1


def test_lost_comment_is_still_posted(sb: Sandbox, pp: requests.Session) -> None:
    sb.faults("pinpoint", "POST /comments", lose_rate="always")
    app_id = sb.hired_application_ids()[0]
    body = {
        "data": {
            "type": "comments",
            "attributes": {"body_text": "hi"},
            "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
        }
    }
    assert pp.post(f"{sb.pinpoint_url}/comments", json=body).status_code == 502
    assert sb.audit().comments_per_application() == {app_id: 1}


def test_stall_outlasts_the_client_then_applies(sb: Sandbox, bob: requests.Session) -> None:
    sb.faults("hibob", "POST /people", stall_rate="always", stall_seconds=0.6, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        create(sb, bob, "slow@example.com", timeout=0.15)
    assert sb.hibob.find_employee("slow@example.com") is None  # not yet
    eventually(lambda: sb.hibob.find_employee("slow@example.com") is not None)


def test_stall_then_answer(sb: Sandbox, pp: requests.Session) -> None:
    sb.faults("pinpoint", "GET /jobs", stall_rate=1, stall_seconds=0.3)
    started = time.monotonic()
    assert pp.get(f"{sb.pinpoint_url}/jobs", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_latency(sb: Sandbox, pp: requests.Session) -> None:
    sb.faults("pinpoint", "*", latency_ms=150)
    started = time.monotonic()
    assert pp.get(f"{sb.pinpoint_url}/jobs").status_code == 200
    assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize("mode", ["html", "truncated", "empty", "huge"])
def test_hostile_bodies(sb: Sandbox, pp: requests.Session, mode: str) -> None:
    url = f"{sb.pinpoint_url}/applications?page[size]=100"
    honest = pp.get(url).content
    sb.faults("pinpoint", "GET /applications", hostile=mode, times=1)
    response = pp.get(url)
    assert response.status_code == 200
    if mode == "html":
        assert response.headers["Content-Type"].startswith("text/html")
    if mode == "truncated":
        assert 0 < len(response.content) < len(honest)
        assert honest.startswith(response.content)
    if mode == "empty":
        assert response.content == b""
    if mode == "huge":
        assert len(response.content) >= 10 * 1024 * 1024
    else:
        with pytest.raises(ValueError):
            response.json()
    assert pp.get(url).content == honest  # only the next request


def test_hostile_body_on_a_write_still_applies_it(sb: Sandbox, bob: requests.Session) -> None:
    sb.faults("hibob", "POST /people", hostile="truncated")
    assert create(sb, bob, "t@example.com").status_code == 200
    assert sb.hibob.find_employee("t@example.com") is not None


def test_wildcard_rule_and_times(sb: Sandbox, pp: requests.Session) -> None:
    sb.faults("pinpoint", "*", error_rate="always", times=2)
    statuses = [pp.get(f"{sb.pinpoint_url}/jobs").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_reset_faults(sb: Sandbox, pp: requests.Session) -> None:
    sb.faults("pinpoint", "*", error_rate="always")
    sb.reset_faults()
    assert pp.get(f"{sb.pinpoint_url}/jobs").status_code == 200


def statuses_with_seed(seed: int) -> list[int]:
    with Sandbox(seed=seed, hires=2, now=NOW) as sb, requests.Session() as pp:
        pp.headers["X-API-KEY"] = sb.pinpoint_api_key
        sb.faults("pinpoint", "GET /jobs", error_rate=0.5)
        return [pp.get(f"{sb.pinpoint_url}/jobs").status_code for _ in range(24)]


def test_probabilities_come_from_the_seed() -> None:
    first = statuses_with_seed(11)
    assert first == statuses_with_seed(11)
    assert {200, 503} == set(first)
    assert first != statuses_with_seed(12)


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 2},
        {"stall_rate": "often"},
        {"hostile": "weird"},
        {"colour": "red"},
        {"error_status": 302},
        {"times": 0},
        {"latency_ms": -1},
    ],
)
def test_bad_knobs_are_refused(sb: Sandbox, knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sb.faults("hibob", "*", **knobs)
    with pytest.raises(ValueError):
        sb.faults("nobody", "*")


def test_unknown_endpoints_are_refused(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="POST /people"):
        sb.faults("hibob", "POST /v1/people", error_rate=1)
    with pytest.raises(ValueError, match="unknown endpoint"):
        sb.hibob.set_rate_limit("POST /person", 5)
    with pytest.raises(ValueError, match="unknown endpoint"):
        sb.pinpoint.faults.set("GET /applications/{application_id}", error_rate=1)
