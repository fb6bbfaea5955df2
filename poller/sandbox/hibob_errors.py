"""HiBob's error bodies, in every shape hibob.md says a client must survive.

- "key_error_args": {"key", "error", "args"}, the shared shape [doc, rec] (the default)
- "key_error":      {"key", "error"}, "a simpler key and error pair" of newer endpoints [doc]
- "goals":          {"statusCode", "error", "message", "timestamp"}, the more detailed shape
- "empty":          no body at all
- "html":           an HTML error page, as a proxy in front of the API answers
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus

from .routing import Response, html_response, json_response

ERROR_SHAPES = ("key_error_args", "key_error", "goals", "empty", "html")


class HibobRejection(Exception):
    """A request HiBob refuses: rendered in the configured error shape with `status`."""

    def __init__(
        self, key: str, message: str, status: int = 400, args: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.key, self.message, self.status, self.details = key, message, status, args


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(
    shape: str,
    status: int,
    key: str,
    message: str,
    *,
    args: tuple[str, ...] = (),
    now: datetime,
) -> Response:
    if shape == "empty":
        return Response(status)
    if shape == "html":
        return html_response(status, _phrase(status))
    if shape == "goals":
        stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = {"statusCode": status, "error": _phrase(status), "message": message}
        return json_response(status, {**body, "timestamp": stamp})
    if shape == "key_error":
        return json_response(status, {"key": key, "error": message})
    return json_response(status, {"key": key, "error": message, "args": list(args)})
