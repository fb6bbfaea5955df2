"""The one sanitiser for text that leaves the process or reaches a person: a payload value sent
to HiBob, a comment sent to Pinpoint, a document name, an upstream message quoted in an error.

NFC; control characters, surrogates, private-use characters and invisible format characters
(bidi overrides, zero-width spaces) dropped; any whitespace becomes one space; bounded.

By default a value keeps the zero-width (non-)joiners some scripts spell names with, and
characters this Python's Unicode tables don't know yet (a newer script's letters, a rare CJK
name character): HiBob stores them as sent. ``printable=True`` drops those too, for text that
must be printable here (a file name, an error message).
"""

from __future__ import annotations

import unicodedata

_JOINERS = frozenset("\u200c\u200d")  # ZWNJ and ZWJ


def _kept(ch: str) -> bool:
    kind = unicodedata.category(ch)
    return kind[0] != "C" or kind == "Cn" or ch in _JOINERS


def clean(
    value: object, limit: int | None = None, *, ellipsis: bool = False, printable: bool = False
) -> str:
    """``value`` as single-line text of at most ``limit`` characters; cut with "…" when
    ``ellipsis`` (a message), else plainly (a value another system stores)."""
    text = unicodedata.normalize("NFC", str(value))
    if not (text.isascii() and text.isprintable()):
        keep = str.isprintable if printable else _kept
        text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or keep(ch))
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…" if ellipsis else text[:limit].rstrip()
    return text
