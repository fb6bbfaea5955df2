"""After the hire, pure: what is watched of a processed hire, what changed, and what to do.

No I/O and no clock. What is watched is what the product sent, as Pinpoint said it: the start
date (the accepted offer's ``start_on``, else the application's), first and last name, email,
and the job's site, department and title as the mapping maps them. Each sighting of the hire
(a listing row with its includes, or the single fetch) is compared with what was last seen:

- a field group not seen before (a hire processed before this was watched) is taken as it is,
  without a change;
- a start date, name or email that empties (an anonymised candidate, a removed offer) is not a
  change: there is nothing to write, and what was last seen is kept;
- anything else that differs is one change, which ``decide`` turns into an action.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from poller.mapping import (
    START_FROM_APPLICATION,
    START_FROM_DEFAULT,
    START_FROM_OFFER,
    clean,
    mapped_site,
)
from poller.mapping import mapped as mapped_value
from poller.models import Application, ChangeAction

if TYPE_CHECKING:
    from poller.config import ChangesSettings, MappingSettings

# Each field of application_changes, and the watched values it is made of.
GROUPS: dict[str, tuple[str, ...]] = {
    "start_date": ("start_date",),
    "name": ("first_name", "last_name"),
    "email": ("email",),
    "job": ("site", "department", "title"),
}
# What may be written to HiBob while the employee has not started. Email and job never are:
# a new email sends an invitation, and site, department and title are HiBob work history.
WRITABLE = frozenset({"start_date", "name"})
_NEVER_EMPTY = frozenset({"start_date", "name", "email"})
NONE = "(none)"


@dataclass(frozen=True)
class Change:
    field: str  # start_date, name, email or job
    old_value: str
    new_value: str
    payload: dict[str, str] | None = None  # what a sync writes to HiBob (start_date, name)


@dataclass(frozen=True)
class Sighting:
    """What a comparison found: the changes, and the watched values to store now."""

    changes: tuple[Change, ...]
    watched: dict[str, str]


def watched_values(app: Application, cfg: MappingSettings) -> dict[str, str]:
    """What is watched of a hire, from Pinpoint's application; "" where Pinpoint has none."""
    start = app.offer_start_on or app.start_on
    return {
        "start_date": start.isoformat() if start else "",
        "first_name": clean(app.first_name or ""),
        "last_name": clean(app.last_name or ""),
        "email": clean(app.email or "").lower(),
        "site": mapped_site(app, cfg),
        "department": mapped_value(cfg.department_map, app.department),
        "title": mapped_value(cfg.title_map, app.job_title),
    }


def initial_watched(start_date: date | None, start_source: str | None) -> dict[str, str]:
    """For a hire processed before it was watched: the start date it was sent, when the row
    says where it came from; the rest is taken from the first sighting."""
    if start_source == START_FROM_DEFAULT:
        return {"start_date": ""}
    if start_source in (START_FROM_OFFER, START_FROM_APPLICATION) and start_date is not None:
        return {"start_date": start_date.isoformat()}
    return {}


def load(raw: str | None) -> dict[str, str]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def dump(values: Mapping[str, str]) -> str:
    """One text per set of values, so that the store can compare-and-set on it."""
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compare(watched: Mapping[str, str], now: Mapping[str, str]) -> Sighting:
    stored = dict(watched)
    changes: list[Change] = []
    for field, keys in GROUPS.items():
        current = {k: now.get(k, "") for k in keys}
        if any(k not in watched for k in keys):
            stored.update(current)  # watched from now on
            continue
        before = {k: watched[k] for k in keys}
        if before == current or (field in _NEVER_EMPTY and not all(current.values())):
            continue
        stored.update(current)
        changes.append(_change(field, before, current))
    return Sighting(tuple(changes), stored)


def _change(field: str, before: Mapping[str, str], after: Mapping[str, str]) -> Change:
    if field == "start_date":
        new = after["start_date"]
        return Change(field, before["start_date"] or NONE, new, {"startDate": new})
    if field == "name":
        return Change(
            field,
            _name(before),
            _name(after),
            {"firstName": after["first_name"], "surname": after["last_name"]},
        )
    if field == "email":
        return Change(field, before["email"] or NONE, after["email"])
    keys = [k for k in GROUPS["job"] if before[k] != after[k]]
    return Change(
        field,
        "; ".join(f"{k}: {before[k] or NONE}" for k in keys),
        "; ".join(f"{k}: {after[k] or NONE}" for k in keys),
    )


def _name(values: Mapping[str, str]) -> str:
    return f"{values['first_name']} {values['last_name']}".strip()


def has_started(hibob_start: date | None, today: date) -> bool:
    """Whether the employee has started: HiBob's start date (what it was given) is not still
    ahead. Unknown counts as started: nothing is written on a guess."""
    return hibob_start is None or hibob_start <= today


def decide(
    change: Change,
    policy: ChangesSettings,
    *,
    app_id: str,
    hibob_start: date | None,
    today: date,
    linked: bool = False,
) -> tuple[ChangeAction, str | None]:
    """The action for a change when it is seen, and the note a person reads. ``linked``: the
    HiBob employee existed before this hire (a rehire, or HR was quicker): the product didn't
    create it, doesn't know its start date, and writes nothing to it."""
    setting = str(getattr(policy, change.field))
    if setting == "ignore":
        return ChangeAction.IGNORED, f'changes.{change.field} = "ignore"'
    why = _not_written(change.field, setting, app_id, hibob_start, today, linked=linked)
    return (ChangeAction.FLAGGED, why) if why else (ChangeAction.PENDING, None)


def _not_written(
    field: str, setting: str, app_id: str, hibob_start: date | None, today: date, *, linked: bool
) -> str | None:
    """Why a change is flagged for a person rather than written; None: it is written."""
    ack = f"`poller ack {app_id}` when done"
    if field == "email":
        return (
            "HiBob's email was not changed (a new email sends the employee an invitation): "
            f"change it in HiBob if it should change; {ack}"
        )
    if field == "job":
        return (
            "HiBob's work history was not changed: add a work entry in HiBob, with its "
            f"effective date, if it should change; {ack}"
        )
    if linked:
        return linked_note(app_id)
    if setting == "flag":
        return (
            f'changes.{field} = "flag": not written to HiBob; change it there if it should '
            f"change; {ack}"
        )
    return started_note(hibob_start, app_id) if has_started(hibob_start, today) else None


def linked_note(app_id: str) -> str:
    return (
        "not written: this hire was linked to an employee already in HiBob (not created by "
        f"the poller), so HiBob's record is left to a person; `poller ack {app_id}` when done"
    )


def started_note(hibob_start: date | None, app_id: str) -> str:
    when = f"started on {hibob_start.isoformat()}" if hibob_start else "may have started"
    return (
        f"not written: the employee {when} (the start date HiBob was given), and HiBob is "
        f"only changed before that. Change it in HiBob by hand if it should change; "
        f"`poller ack {app_id}` when done"
    )
