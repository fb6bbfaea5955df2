"""The HiBob field paths the mapping owns, and the ``{name}`` templates of the config.

Shared by the mapping, which fills them, and the config, which refuses an extra field that
would overwrite one of them: neither imports the other.
"""

from __future__ import annotations

import string

# Paths the mapping sets itself; mapping.extra_fields may not write into or over them.
CORE_FIELD_PATHS = (
    "firstName",
    "surname",
    "email",
    "work.site",
    "work.startDate",
    "work.title",
    "work.department",
)
PERSONAL_EMAIL_PATH = "home.privateEmail"


def template_names(template: str) -> list[str]:
    """The ``{name}`` placeholders of a template; ValueError when it is malformed."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"{{{name}}} is not a placeholder like {{application_id}}")
        if spec or conversion:
            raise ValueError(f"{{{name}}}: format specs and conversions are not supported")
        names.append(name)
    return names


def reserved_path_conflict(path: str, email_field: str) -> str | None:
    """Why ``path`` can't be an extra field (it overlaps a core field), or None."""
    reserved = CORE_FIELD_PATHS + ((PERSONAL_EMAIL_PATH,) if email_field == "personal" else ())
    for core in reserved:
        if path == core or core.startswith(path + ".") or path.startswith(core + "."):
            return f"collides with the core field {core}, which the mapping sets itself"
    return None
