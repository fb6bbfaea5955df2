"""Pinpoint's per-resource key scopes (pinpoint.md: "Keys are scoped per resource").

A request needs its endpoint's scope plus the read scope of every resource it includes:
GET /jobs jobs:read; GET /applications and GET /applications/{id} applications:read;
GET /comments comments:read; POST /comments applications:write (comments are written on
applications). A missing scope is a 403 naming the resource and the access.
"""

from __future__ import annotations

from collections.abc import Iterable

from .pinpoint_json import error_object, jsonapi_errors
from .routing import Response

SCOPES = (
    "jobs:read",
    "stages:read",
    "applications:read",
    "applications:write",
    "offers:read",
    "comments:read",
    "locations:read",
    "departments:read",
)
# Include path -> the read scopes it needs besides the endpoint's own.
APPLICATION_INCLUDES = {
    "job": ("jobs:read",),
    "stage": ("stages:read",),
    "offers": ("offers:read",),
    "comments": ("comments:read",),
    "job.location": ("jobs:read", "locations:read"),
    "job.department": ("jobs:read", "departments:read"),
}
JOB_INCLUDES = {
    "stages": ("stages:read",),
    "location": ("locations:read",),
    "department": ("departments:read",),
}


def checked_scopes(scopes: Iterable[str]) -> frozenset[str]:
    names = frozenset(scopes)
    if isinstance(scopes, str) or names - set(SCOPES):
        raise ValueError(f"scopes are a list of: {', '.join(SCOPES)}")
    return names


def scope_refusal(missing: frozenset[str], needed: Iterable[str]) -> Response | None:
    """A 403 with one error per needed scope the key lacks, or None."""
    lacking = [scope for scope in dict.fromkeys(needed) if scope in missing]
    if not lacking:
        return None
    errors = []
    for scope in lacking:
        resource, access = scope.split(":")
        errors.append(error_object(403, f"This API key has no {access} access to {resource}"))
    return jsonapi_errors(403, errors)
