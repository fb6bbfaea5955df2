"""HiBob's company lists and field metadata: the default named lists and GET /company/people/fields.

hibob.md: work.site is text matched to a site's name without regard to case (work.siteId is its
list-backed twin); work.title and work.department are list fields, whose values must be active
items of their lists.
"""

from __future__ import annotations

from typing import Any

from .records import ListItem

# The default title list holds some of the seeded Pinpoint job titles but not all: "Head of
# Security" and "Sales Director" are left out, so the default world has unmapped titles.
DEFAULT_TITLES = (
    "Account Executive",
    "Backend Engineer",
    "Data Engineer",
    "Designer",
    "Engineering Manager",
    "Frontend Engineer",
    "Product Manager",
    "Recruiter",
    "Support Engineer",
)
ARCHIVED_TITLES = ("Software Developer",)
TITLE_IDS = 400001


def item(ident: int, name: str, *children: ListItem, archived: bool = False) -> ListItem:
    return ListItem(ident, name, archived, list(children))


def title_items(titles: list[str], archived: tuple[str, ...] = ()) -> list[ListItem]:
    names = [*titles, *archived]
    return [item(TITLE_IDS + i, t, archived=t in archived) for i, t in enumerate(names)]


def default_named_lists() -> dict[str, list[ListItem]]:
    return {
        "site": [
            item(208751, "London"),
            item(208752, "New York"),
            item(208753, "Berlin"),
            item(208754, "Paris", archived=True),
        ],
        "department": [
            item(310001, "Engineering", item(310011, "Platform"), item(310012, "Data")),
            item(310002, "Sales", item(310021, "Sales EMEA")),
            item(310003, "Marketing"),
            item(310004, "People"),
            item(310005, "Legacy Operations", archived=True),
        ],
        "title": title_items(list(DEFAULT_TITLES), ARCHIVED_TITLES),
    }


def active_items(items: list[ListItem]) -> list[ListItem]:
    """Items and their children, archived subtrees left out."""
    return [i for top in items if not top.archived for i in top.walk() if not i.archived]


def find_item(items: list[ListItem], value: Any, *, ignore_case: bool = False) -> ListItem | None:
    """The active item whose name (or id, as a number or its digits) is `value`."""
    for candidate in active_items(items):
        if isinstance(value, str) and (
            value == candidate.name
            or (ignore_case and value.casefold() == candidate.name.casefold())
            or value == str(candidate.id)
        ):
            return candidate
        if isinstance(value, int) and not isinstance(value, bool) and value == candidate.id:
            return candidate
    return None


def _field(path: str, name: str, kind: str, list_id: str | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {
        "id": path.removeprefix("root."),
        "name": name,
        "category": path.split(".", maxsplit=1)[0],
        "jsonPath": path,
        "type": kind,
    }
    if list_id is not None:
        field["typeData"] = {"listId": list_id}
    return field


def people_fields(title_is_list: bool) -> list[dict[str, Any]]:
    """GET /company/people/fields: a small, representative list."""
    return [
        _field("root.id", "Id", "text"),
        _field("root.firstName", "First name", "text"),
        _field("root.surname", "Last name", "text"),
        _field("root.email", "Email", "text"),
        _field("work.site", "Site", "text"),  # matched to a site's name, any letter case
        _field("work.siteId", "Site", "list", "site"),
        _field("work.department", "Department", "list", "department"),
        _field("work.title", "Job title", *(("list", "title") if title_is_list else ("text",))),
        _field("work.startDate", "Start date", "date"),
        _field("internal.lifecycleStatus", "Lifecycle status", "text"),
    ]
