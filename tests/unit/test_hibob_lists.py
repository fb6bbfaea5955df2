"""The flow's cache of HiBob's site, department and title lists."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from poller.errors import AuthError, NotFound, RetryableError
from poller.upstream.hibob_lists import RETRY_FAILED_AFTER_SECONDS, HibobLists


class FakeClient:
    def __init__(self, answers: dict[str, Callable[[], list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def named_list(self, name: str) -> list[str]:
        self.calls.append(name)
        return self.answers[name]()


def fail(exc: Exception) -> Callable[[], list[str]]:
    def raise_it() -> list[str]:
        raise exc

    return raise_it


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lists(client: FakeClient, clock: Clock, ttl: float = 900) -> HibobLists:
    return HibobLists(client, ttl_seconds=ttl, clock=clock)  # type: ignore[arg-type]


def test_read_once_per_period_not_per_hire() -> None:
    client = FakeClient(
        {"site": lambda: ["London"], "department": lambda: ["Sales"], "title": lambda: ["Engineer"]}
    )
    clock = Clock()
    cache = lists(client, clock)
    for _ in range(50):
        assert cache.get() == {"site": ["London"], "department": ["Sales"], "title": ["Engineer"]}
    assert client.calls == ["site", "department", "title"]
    clock.now = 901
    cache.get()
    assert len(client.calls) == 6


def test_missing_forbidden_or_failing_lists_are_left_unchecked() -> None:
    client = FakeClient(
        {
            "site": lambda: ["London"],
            "department": fail(AuthError("no", api="hibob", endpoint="GET x", status=403)),
            "title": fail(NotFound("no", api="hibob", endpoint="GET x", status=404)),
        }
    )
    assert lists(client, Clock()).get() == {"site": ["London"]}


def test_a_failed_read_is_tried_again_soon() -> None:
    client = FakeClient(
        {
            "site": fail(RetryableError("down", api="hibob", endpoint="GET x")),
            "department": lambda: [],
            "title": lambda: [],
        }
    )
    clock = Clock()
    cache = lists(client, clock)
    assert "site" not in cache.get()
    clock.now = RETRY_FAILED_AFTER_SECONDS + 1
    cache.get()
    assert client.calls.count("site") == 2


def test_a_rejected_token_stops_the_cycle() -> None:
    client = FakeClient({"site": fail(AuthError("bad", api="hibob", endpoint="GET x", status=401))})
    with pytest.raises(AuthError):
        lists(client, Clock()).get()
