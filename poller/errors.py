"""The poller's error tree. The type says what the caller should do.

    PollerError
     ├── ConfigError            bad config or usage: exit 2, every problem listed
     ├── StoreError             the database can't be reached: the cycle stops, exit 1
     ├── UpstreamError          a Pinpoint or HiBob call failed
     │    ├── RetryableError    429, 5xx, timeouts, connection errors: try again later
     │    │    └── RateLimited  429, with the wait the server asked for
     │    └── PermanentError    retrying the same request gives the same answer
     │         ├── AuthError    401/403: the whole cycle stops (never retried: HiBob's WAF)
     │         ├── NotFound     404
     │         ├── EmailAlreadyExists   HiBob 400 validations.email.alreadyexists
     │         └── InvalidResponse      a body that doesn't parse or has the wrong shape
     ├── MappingError           the application can't be turned into a HiBob payload
     └── CVRejected             the CV can't be used (host, size, type); the hire goes on

Messages never carry secrets, headers or URL query strings: they are built from the
API name, the endpoint template, the status and the upstream error key/message only.
"""

from __future__ import annotations

# What an error message says of an error body that carries no words of its own.
EMPTY_BODY = "empty body"
HTML_BODY = "HTML error page"


class PollerError(Exception):
    """Root of every error the poller raises on purpose."""


class ConfigError(PollerError):
    """Configuration or usage is wrong. Carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class StoreError(PollerError):
    """The ledger database is unreachable or refused a write."""


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


class RetryableError(UpstreamError):
    """A transient failure: the same request may succeed later."""


class RateLimited(RetryableError):
    """HTTP 429. ``retry_after`` is the wait, in seconds, that the server asked for, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class PermanentError(UpstreamError):
    """Retrying the same request will fail the same way."""


class AuthError(PermanentError):
    """401 or 403: bad credentials or a missing permission. Stops the cycle."""


class NotFound(PermanentError):
    """404: the resource does not exist (or is not visible to this key)."""


class EmailAlreadyExists(PermanentError):
    """HiBob answered 400 validations.email.alreadyexists: adopt the existing employee."""


class InvalidResponse(PermanentError):
    """The upstream answered, but the body is not what the contract says."""


class MappingError(PollerError):
    """An application can't be mapped. Names the field and the config key that fixes it."""

    def __init__(self, field: str, message: str, fix: str | None = None) -> None:
        self.field = field
        self.fix = fix
        text = f"{field}: {message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)


class CVRejected(PollerError):
    """The CV can't be used. The employee and the comment go ahead; the row records why."""
