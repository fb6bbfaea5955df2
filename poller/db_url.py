"""The one PostgreSQL URL rewrite: users write postgresql:// (or postgres://), as libpq does.

SQLAlchemy reads a bare postgresql:// as psycopg2, and refuses postgres:// outright; we ship
psycopg 3, so both become postgresql+psycopg://. Any other URL is left as it is.
"""

from __future__ import annotations

import re

_PLAIN_POSTGRES = re.compile(r"^(?i:postgres|postgresql)://")


def normalise_url(url: str) -> str:
    return _PLAIN_POSTGRES.sub("postgresql+psycopg://", url.strip())
