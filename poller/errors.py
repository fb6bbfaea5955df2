"""Every error the poller raises on purpose, in one tree by what should happen next.

    PollerError
     ├── ConfigError            stop the process: bad config or usage, exit 2, every problem
     ├── StopCycle              stop the cycle (exit 1); the next cycle tries again
     │    ├── StoreError        the database can't be reached or refused a write
     │    └── CycleAborted      a row's failure that concerns every row (wraps its cause)
     ├── UpstreamError          a Pinpoint or HiBob call failed (api, endpoint, status, key)
     │    ├── AuthError         401/403: stop the cycle (never retried: HiBob's WAF)
     │    ├── RetryableError    429, 5xx, timeouts: retried at once by the HTTP layer when that
     │    │    │                is safe, then the row is rescheduled
     │    │    └── RateLimited  429, with the wait the server asked for
     │    ├── InvalidResponse   an answer that isn't what the contract says: reschedule
     │    └── PermanentError    the same request gets the same answer: fail the row
     │         ├── NotFound     404
     │         └── EmailAlreadyExists   HiBob has the email: the employee step adopts it
     ├── MappingError           the application can't be mapped: fail the row
     ├── CVRejected             the CV can't be used: skip it, the hire goes on
     └── LeaseLost              another worker holds the row now: let it go

``reaction`` is the flow's response to each, read from this tree: a step handles only what it
can act on (the employee step adopts, the CV step skips a refused CV), and whatever escapes
a step gets ``reaction(exc)``, so the tree and the reaction can't disagree.

Messages never carry secrets, headers or URL query strings: they are built from the API name,
the endpoint template, the status and the upstream error key/message only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

# What an error message says of an error body that carries no words of its own.
EMPTY_BODY = "empty body"
HTML_BODY = "HTML error page"


class Reaction(StrEnum):
    STOP_PROCESS = "stop the process"
    STOP_CYCLE = "stop the cycle"
    RESCHEDULE = "reschedule the row"
    FAIL_ROW = "fail the row"
    SKIP_CV = "skip the CV"
    LET_GO = "let the row go"


class PollerError(Exception):
    """Root of every error the poller raises on purpose."""

    reaction: ClassVar[Reaction] = Reaction.RESCHEDULE


def reaction(exc: BaseException) -> Reaction:
    """What the flow does with an error that escaped a step. Anything that is not one of
    ours is a bug: the row is rescheduled (and the bug logged), so the batch goes on."""
    return exc.reaction if isinstance(exc, PollerError) else Reaction.RESCHEDULE


class ConfigError(PollerError):
    """Configuration or usage is wrong. Carries every problem found, not just the first."""

    reaction = Reaction.STOP_PROCESS

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class StopCycle(PollerError):
    """Nothing more can be done in this cycle."""

    reaction = Reaction.STOP_CYCLE


class StoreError(StopCycle):
    """The ledger database is unreachable or refused a write."""


class CycleAborted(StopCycle):
    """Raised out of the worker pool when the whole cycle must stop (credentials, store)."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(str(cause))


class UpstreamError(PollerError):
    """A call to Pinpoint or HiBob failed.

    ``api`` is "pinpoint" or "hibob"; ``endpoint`` is the route template (e.g.
    "POST /people"), never a concrete URL; ``status`` is the HTTP status, or None when no
    answer came; ``key`` is HiBob's error key or Pinpoint's error code (else title), when
    present; ``parameter`` is the query parameter a JSON:API error blames (``source.parameter``).
    """

    def __init__(
        self,
        message: str,
        *,
        api: str,
        endpoint: str,
        status: int | None = None,
        key: str | None = None,
        parameter: str | None = None,
    ) -> None:
        self.message = message
        self.api = api
        self.endpoint = endpoint
        self.status = status
        self.key = key
        self.parameter = parameter
        super().__init__(str(self))

    def __str__(self) -> str:
        status = "no answer" if self.status is None else f"HTTP {self.status}"
        key = f" [{self.key}]" if self.key else ""
        return f"{self.api} {self.endpoint}: {status}{key}: {self.message}"


class AuthError(UpstreamError):
    """401 or 403: bad credentials, a missing permission or scope. Stops the cycle."""

    reaction = Reaction.STOP_CYCLE


class RetryableError(UpstreamError):
    """A transient failure: the same request may succeed later."""

    reaction = Reaction.RESCHEDULE


class RateLimited(RetryableError):
    """HTTP 429. ``retry_after`` is the wait, in seconds, that the server asked for, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class InvalidResponse(UpstreamError):
    """The upstream answered, but the body is not what the contract says. Not retried at once
    (the same answer would come back), but the row is, later: a broken answer often heals."""

    reaction = Reaction.RESCHEDULE


class PermanentError(UpstreamError):
    """Retrying the same request will fail the same way."""

    reaction = Reaction.FAIL_ROW


class NotFound(PermanentError):
    """404: the resource does not exist (or is not visible to this key)."""


class EmailAlreadyExists(PermanentError):
    """HiBob answered 400 "email already exists": the employee step adopts the employee."""


class MappingError(PollerError):
    """An application can't be mapped. Names the field and the config key that fixes it."""

    reaction = Reaction.FAIL_ROW

    def __init__(self, field: str, message: str, fix: str | None = None) -> None:
        self.field = field
        self.fix = fix
        text = f"{field}: {message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)


class CVRejected(PollerError):
    """The CV can't be used. The employee and the comment go ahead; the row records why."""

    reaction = Reaction.SKIP_CV


class LeaseLost(PollerError):
    """Another worker holds this row now: stop working on it."""

    reaction = Reaction.LET_GO
