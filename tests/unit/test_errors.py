"""The error table: every product exception, and the flow's reaction to it, in one place.

The reaction is read from the tree (``poller.errors.reaction``). This test lists every class
under PollerError with the reaction a person would expect of it, so that a new class, or a
class moved in the tree, can't change what the flow does without this table changing too.
"""

from __future__ import annotations

import pytest

from poller import errors
from poller.errors import PollerError, Reaction, reaction

EXPECTED = {
    "PollerError": Reaction.RESCHEDULE,
    "ConfigError": Reaction.STOP_PROCESS,
    "StopCycle": Reaction.STOP_CYCLE,
    "StoreError": Reaction.STOP_CYCLE,
    "CycleAborted": Reaction.STOP_CYCLE,
    "UpstreamError": Reaction.RESCHEDULE,
    "AuthError": Reaction.STOP_CYCLE,
    "RetryableError": Reaction.RESCHEDULE,
    "RateLimited": Reaction.RESCHEDULE,
    "InvalidResponse": Reaction.RESCHEDULE,
    "PermanentError": Reaction.FAIL_ROW,
    "NotFound": Reaction.FAIL_ROW,
    "EmailAlreadyExists": Reaction.FAIL_ROW,  # the employee step adopts it; out of it, it fails
    "MappingError": Reaction.FAIL_ROW,
    "CVRejected": Reaction.SKIP_CV,
    "LeaseLost": Reaction.LET_GO,
}


def every_class() -> list[type[PollerError]]:
    found: list[type[PollerError]] = []
    todo: list[type[PollerError]] = [PollerError]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return found


def instance(cls: type[PollerError]) -> PollerError:
    if issubclass(cls, errors.UpstreamError):
        return cls("m", api="hibob", endpoint="POST /people", status=400)
    if issubclass(cls, errors.ConfigError):
        return cls(["a problem"])
    if issubclass(cls, errors.MappingError):
        return cls("work.site", "no site")
    if issubclass(cls, errors.CycleAborted):
        return cls(RuntimeError("x"))
    return cls("m")


def test_every_product_exception_lives_in_errors_and_is_in_the_table() -> None:
    classes = every_class()
    assert {c.__module__ for c in classes} == {"poller.errors"}
    assert sorted(c.__name__ for c in classes) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_reaction_to_each_class(name: str) -> None:
    cls = getattr(errors, name)
    assert reaction(instance(cls)) is EXPECTED[name]


def test_anything_else_is_a_bug_and_the_row_is_rescheduled() -> None:
    assert reaction(KeyError("x")) is Reaction.RESCHEDULE
    assert reaction(RuntimeError("x")) is Reaction.RESCHEDULE


def test_the_tree_says_what_the_http_layer_retries_in_place() -> None:
    """Only RetryableError is retried at once (when the request is safe to repeat): an
    InvalidResponse would come back the same, and a 4xx would too."""
    assert not issubclass(errors.InvalidResponse, errors.RetryableError)
    assert not issubclass(errors.AuthError, errors.RetryableError)
    assert issubclass(errors.RateLimited, errors.RetryableError)
