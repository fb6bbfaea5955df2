"""Pure mapping: a Pinpoint ``Application`` -> the body of HiBob ``POST /people``.

No I/O and no clock: ``today`` and HiBob's company lists are passed in, so every rule is a
table test. A hire that can't be mapped raises ``MappingError(field, message, fix)``, whose
fix names the Pinpoint field or config key to change; the row then fails with that text.

- site: the job's location through ``site_map`` (else ``default_site``), matched to HiBob's
  site list without regard to case, as HiBob does, and sent as the list spells it;
- department and title: through their maps, then checked against HiBob's lists (list
  fields: a value that is not an item is refused). One that is not there is left out and
  said in the row, or fails the row, per ``on_unknown_department`` / ``on_unknown_title``;
- start date: the accepted offer's ``start_on``, else the application's, else today plus
  ``default_start_offset_days``; the payload says which (``start_source``).

Values are NFC-normalised, stripped of control and bidi-override characters, whitespace is
collapsed, and lengths are bounded; emails are trimmed, lower-cased and checked.
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from poller.errors import MappingError
from poller.fields import (
    reserved_path_conflict,
    template_names,
)
from poller.models import Application, EmployeeLink, EmployeePayload
from poller.text import clean as _clean_text

# Where work.startDate came from, as the row records it.
START_FROM_OFFER = "offer"
START_FROM_APPLICATION = "application"
START_FROM_DEFAULT = "default"

if TYPE_CHECKING:
    from poller.config import MappingSettings

__all__ = [
    "build_employee",
    "clean",
    "closest",
    "comment_text",
    "find_in_list",
    "lookup",
    "mapped",
    "mapped_site",
    "work_email",
]

MAX_TEXT = 255
MAX_EXTRA = 1000
MAX_EMAIL = 254
MAX_COMMENT = 500

_EMAIL = re.compile(
    r"^(?=.{1,64}@)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
# Letters NFKD does not decompose into ASCII (applied after lower-casing).
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",
    }
)
_LIST_FIX = {
    "site": "map it in mapping.site_map (or mapping.default_site), or add it to HiBob's site list",
    "department": "map it in mapping.department_map, or add it to HiBob's department list",
    "title": "map it in mapping.title_map, or add it to HiBob's title list",
}


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """A payload value: printable, single-line, NFC, at most ``limit`` characters."""
    return _clean_text(value, limit)


def closest(value: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The existing names nearest to ``value``: case-insensitive equals first, then fuzzy."""
    unique = list(dict.fromkeys(choices))
    by_fold = {c.casefold(): c for c in unique}
    same = [c for c in unique if c.casefold() == value.casefold()]
    fuzzy = difflib.get_close_matches(value.casefold(), list(by_fold), n=n, cutoff=0.6)
    return (same + [by_fold[f] for f in fuzzy if by_fold[f] not in same])[:n]


def _render(template: str, values: Mapping[str, str | None], path: str) -> str:
    try:
        parsed = list(string.Formatter().parse(template))
        template_names(template)
    except ValueError as exc:
        raise MappingError(path, f"bad template in mapping.extra_fields: {exc}") from None
    out = []
    for literal, name, _spec, _conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if not value:
            raise MappingError(
                path,
                f"mapping.extra_fields[{path!r}] uses {{{name}}}, which this application "
                "doesn't have",
                f"fill in {name} in Pinpoint, or change mapping.extra_fields[{path!r}]",
            )
        out.append(value)
    return "".join(out)


def _email_part(name: str) -> str:
    # Lowered again after NFKD: a compatibility capital (U+210C, U+1D417) decomposes to "H", "X".
    folded = unicodedata.normalize("NFKD", name.lower().translate(_FOLD)).lower()
    ascii_only = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "-"))
    return re.sub(r"-{2,}", "-", ascii_only).strip("-")


def _work_email(template: str, first: str, last: str, app_id: str | None) -> str:
    fix = (
        "create the employee in HiBob by hand, then "
        f"`poller resolve {app_id or '<application id>'}`, or change mapping.work_email_template"
    )
    try:
        names = template_names(template)
    except ValueError as exc:
        raise MappingError("mapping.work_email_template", str(exc)) from None
    if not template.strip() or set(names) - {"first", "last"}:
        raise MappingError("mapping.work_email_template", 'must be like "{first}.{last}@acme.com"')
    parts = {"first": _email_part(first), "last": _email_part(last)}
    for key in names:
        if not parts[key]:
            raise MappingError(
                "email",
                f"can't build a work email: the candidate's {key} name has no letters "
                "usable in an email address (a-z, 0-9)",
                fix,
            )
    address = template.format_map(parts).strip().lower()
    if len(address) > MAX_EMAIL or not _EMAIL.match(address):
        raise MappingError(
            "email", "the work email built from mapping.work_email_template is not valid", fix
        )
    return address


def work_email(template: str, first: str, last: str) -> str:
    """``template`` over ASCII-folded names: "{first}.{last}@acme.com" + José Núñez ->
    jose.nunez@acme.com. Spaces and apostrophes go, hyphens stay. MappingError when a name
    folds to nothing (e.g. a CJK-only name) or the result is not a valid email."""
    return _work_email(template, first, last, None)


def comment_text(employee_id: str, link: str, first: str | None, last: str | None) -> str:
    """The Pinpoint comment body: plain text, one line, bounded."""
    name = clean(" ".join(p for p in (first, last) if p), 200)
    ident = clean(employee_id, 64)
    who = f" for {name}" if name else ""
    if link == EmployeeLink.CREATED:
        text = f"Employee created in HiBob with ID {ident}{who}."
    elif link == EmployeeLink.LINKED_EXISTING:
        text = f"Linked to existing HiBob employee ID {ident}{who} (already in HiBob)."
    else:
        raise ValueError(f"unknown employee link {link!r}")
    return clean(text, MAX_COMMENT)


def lookup(table: Mapping[str, str], key: str) -> str | None:
    """Exact key first, then case-insensitively (Pinpoint's casing drifts)."""
    if key in table:
        return table[key]
    folded = key.casefold()
    return next((v for k, v in table.items() if k.casefold() == folded), None)


def _name(app: Application, attr: str, label: str) -> str:
    value = clean(getattr(app, attr) or "")
    if not value:
        raise MappingError(
            attr,
            f"application {app.id} has no {label}: anonymised screening hides candidate "
            "details, or it was never entered",
            f"complete the candidate's {label} in Pinpoint, then `poller retry {app.id}`",
        )
    return value


def _candidate_email(app: Application) -> str:
    fix = f"complete the candidate's email in Pinpoint, then `poller retry {app.id}`"
    email = clean(app.email or "", MAX_EMAIL + 1).lower()
    if not email:
        raise MappingError(
            "email",
            f"application {app.id} has no email: the candidate is anonymised (anonymised "
            "screening hides details) or has no email",
            fix,
        )
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise MappingError("email", f"application {app.id}: the email is not a valid address", fix)
    return email


def find_in_list(value: str, items: Collection[str]) -> str | None:
    """The item of a HiBob list that ``value`` names: exactly, else ignoring case."""
    if value in items:
        return value
    folded = value.casefold()
    return next((item for item in items if item.casefold() == folded), None)


def _not_in_list(app: Application, list_name: str, value: str, items: Collection[str]) -> str:
    near = closest(value, items)
    hint = f"; closest: {', '.join(repr(n) for n in near)}" if near else ""
    return f"application {app.id}: {value!r} is not in HiBob's {list_name} list{hint}"


def mapped_site(app: Application, cfg: MappingSettings) -> str:
    """The site the job's location maps to (else ``default_site``); "" when neither."""
    location = clean(app.location or "")
    site = lookup(cfg.site_map, location) if location else None
    return clean(site or cfg.default_site or "")


def mapped(table: Mapping[str, str], value: str | None) -> str:
    """``value`` through a mapping table (``department_map``, ``title_map``), cleaned."""
    value = clean(value or "")
    return clean(lookup(table, value) or value) if value else ""


def _site(app: Application, cfg: MappingSettings, sites: Collection[str] | None) -> str:
    site = mapped_site(app, cfg)
    if not site:
        location = clean(app.location or "")
        where = f"location {location!r}" if location else "no job location"
        raise MappingError(
            "work.site",
            f"application {app.id} has {where}, which has no site",
            "add it to mapping.site_map or set mapping.default_site",
        )
    if sites is None:
        return site
    found = find_in_list(site, sites)
    if found is None:  # required: it can't be left out
        raise MappingError("work.site", _not_in_list(app, "site", site, sites), _LIST_FIX["site"])
    return found


def _listed(
    app: Application,
    list_name: str,
    value: str,
    *,
    items: Collection[str] | None,
    policy: str,
    notes: list[str],
) -> str | None:
    """``value`` as HiBob's list spells it; None when it isn't there and ``policy`` is
    "omit" (said in ``notes``); MappingError when it is "fail"."""
    if items is None:  # the list couldn't be read: send it, and let HiBob judge
        return value
    found = find_in_list(value, items)
    if found is not None:
        return found
    path, fix = f"work.{list_name}", _LIST_FIX[list_name]
    if policy == "fail":
        raise MappingError(path, _not_in_list(app, list_name, value, items), fix)
    notes.append(f"{path} {value!r} left out: not in HiBob's {list_name} list ({fix})")
    return None


def start_date(app: Application, cfg: MappingSettings, today: date) -> tuple[date, str]:
    """The employee's start date and where it came from."""
    if app.offer_start_on is not None:
        return app.offer_start_on, START_FROM_OFFER
    if app.start_on is not None:
        return app.start_on, START_FROM_APPLICATION
    return today + timedelta(days=cfg.default_start_offset_days), START_FROM_DEFAULT


def _template_values(app: Application, first: str, last: str, email: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for key, raw in app.attributes.items():
        if isinstance(raw, bool):
            values[key] = "true" if raw else "false"
        elif isinstance(raw, str | int | float):
            values[key] = clean(raw, MAX_EXTRA)
    fixed = {
        "application_id": app.id,
        "first": first,
        "last": last,
        "email": email,
        "phone": app.phone,
        "job_title": app.job_title,
        "department": app.department,
        "location": app.location,
    }
    values.update({k: clean(v, MAX_EXTRA) if v else None for k, v in fixed.items()})
    return values


def _set_path(body: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The dict that holds ``path``'s last part, created as needed; MappingError on overlap."""
    *parents, leaf = path.split(".")
    node = body
    walked = []
    for part in parents:
        walked.append(part)
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise MappingError(
                path, f"collides with the field {'.'.join(walked)}", "change mapping.extra_fields"
            )
        node = child
    if leaf in node:
        raise MappingError(path, "collides with a field already set", "change mapping.extra_fields")
    return node, leaf


def build_employee(
    app: Application,
    cfg: MappingSettings,
    *,
    today: date,
    hibob_lists: Mapping[str, Collection[str]] | None = None,
) -> EmployeePayload:
    """Map one application to a HiBob create-employee payload; MappingError if it can't be.

    ``hibob_lists``: HiBob's named lists by name ("site", "department", "title"); a list
    that is absent isn't checked."""
    lists = hibob_lists or {}
    first = _name(app, "first_name", "first name")
    last = _name(app, "last_name", "last name")
    candidate_email = _candidate_email(app)
    notes: list[str] = []

    work: dict[str, Any] = {"site": _site(app, cfg, lists.get("site"))}
    department = mapped(cfg.department_map, app.department)
    if department:
        value = _listed(
            app,
            "department",
            department,
            items=lists.get("department"),
            policy=cfg.on_unknown_department,
            notes=notes,
        )
        if value is not None:
            work["department"] = value
    title = mapped(cfg.title_map, app.job_title)
    if title:
        value = _listed(
            app,
            "title",
            title,
            items=lists.get("title"),
            policy=cfg.on_unknown_title,
            notes=notes,
        )
        if value is not None:
            work["title"] = value
    start, start_source = start_date(app, cfg, today)
    work["startDate"] = start.isoformat()

    body: dict[str, Any] = {"firstName": first, "surname": last, "work": work}
    if cfg.email_field == "personal":
        body["email"] = _work_email(cfg.work_email_template, first, last, app.id)
        body["home"] = {"privateEmail": candidate_email}
    else:
        body["email"] = candidate_email

    values = _template_values(app, first, last, candidate_email)
    for path, template in cfg.extra_fields.items():
        conflict = reserved_path_conflict(path, cfg.email_field)
        if conflict:
            raise MappingError(path, conflict, "remove it from mapping.extra_fields")
        value = clean(_render(template, values, path), MAX_EXTRA)
        node, leaf = _set_path(body, path)
        node[leaf] = value
    return EmployeePayload(
        body=body,
        email=body["email"],
        start_date=start,
        start_source=start_source,
        notes=tuple(notes),
    )
