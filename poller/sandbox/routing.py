"""Request and response values, and the routing table both simulators declare."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

JSON_TYPE = "application/json"


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    client_host: str
    params: dict[str, str] = field(default_factory=dict)  # filled from the route's {names}
    too_large: bool = False  # the body was over the server's limit and was dropped

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON; ValueError when it isn't."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Reject(Exception):
    """A handler raises this to answer at once with a prepared response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, payload: Any, content_type: str = JSON_TYPE) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": content_type})


def html_response(status: int, title: str) -> Response:
    body = (
        f"<html><head><title>{status} {title}</title></head><body>"
        f"<center><h1>{status} {title}</h1></center><hr><center>nginx</center></body></html>\n"
    )
    return Response(status, body.encode(), {"Content-Type": "text/html; charset=utf-8"})


Handler = Callable[[Request], Response]

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    """One row of a routing table.

    `template` names the endpoint relative to the simulator's base path ("/applications/{id}");
    "METHOD template" is the key used by faults, rate limits and the audit.
    """

    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    auth: bool = True  # False: the route checks its own credentials (signed file links)
    control: bool = False  # /_sandbox/ control plane: no auth, faults, limits or audit

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @classmethod
    def build(
        cls,
        method: str,
        template: str,
        handler: Handler,
        *,
        prefix: str = "",
        auth: bool = True,
        control: bool = False,
    ) -> Route:
        parts = _PARAM.split(template)
        # split() alternates literal text and parameter names.
        pattern = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        regex = re.compile(f"^{re.escape(prefix)}{pattern}/?$")
        return cls(method, template, regex, handler, auth=auth, control=control)


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


def match(routes: list[Route], method: str, path: str) -> tuple[Match | None, bool]:
    """The route for (method, path), and whether the path exists under another method."""
    other_method = False
    for route in routes:
        found = route.regex.match(path)
        if found is None:
            continue
        if route.method == method:
            params = {name: unquote(value) for name, value in found.groupdict().items()}
            return Match(route, params), False
        other_method = True
    return None, other_method
