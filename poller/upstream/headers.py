"""A response's header block parsed without the email package, for the common case.

http.client parses every response's headers with email.parser's FeedParser: on this client's
small answers that was a tenth of all the CPU the poller spends per hire (profiled, see
bench/README.md). ``parse_headers`` builds the same ``HTTPMessage`` directly when every line is
a plain ``Name: value`` line, and hands anything else (a folded continuation line, a line
with no colon or with an odd name, a mbox "From " line) to the email parser as before, so the
result is the same either way (tests/unit/test_headers.py compares them).
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import IO, Any

# A name the email parser reads as one: printable ASCII but space and ":" (its headerRE).
_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_END = (b"\r\n", b"\n", b"")


class PlainMessage(http.client.HTTPMessage):
    """An HTTPMessage built by ``parse_headers`` from plain lines, read without the email
    policy's per-lookup work. That work (compat32's ``header_fetch_parse``) only changes a
    value holding surrogates, and text decoded from ISO-8859-1 never does: the answers are
    the same (tests/unit/test_headers.py)."""

    def get(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        for key, value in self._headers:  # type: ignore[attr-defined]
            if key.lower() == name:
                return value
        return failobj

    __getitem__ = get

    def items(self) -> list[tuple[str, Any]]:
        return list(self._headers)  # type: ignore[attr-defined]

    def values(self) -> list[Any]:
        return [value for _, value in self._headers]  # type: ignore[attr-defined]


def parse_headers(
    fp: IO[bytes], _class: type[http.client.HTTPMessage] = http.client.HTTPMessage
) -> http.client.HTTPMessage:
    """``http.client.parse_headers``, with the email parser only for unusual header blocks."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]  # its own limits apply
    message = PlainMessage() if _class is http.client.HTTPMessage else _class()
    for raw in lines:
        if raw in _END:
            break
        # Only the line's own ending goes: a CR before it ("a\r\r\n") is a lone CR.
        line = raw.decode("iso-8859-1").removesuffix("\n").removesuffix("\r")
        name, colon, value = line.partition(":")
        # The email parser also breaks lines at a lone CR: leave those to it.
        if not colon or not _NAME.fullmatch(name) or name.startswith("From ") or "\r" in line:
            return _email_parse(lines, _class)
        # The value as compat32's header_source_parse makes it.
        message.set_raw(name, value.lstrip(" \t"))
    return message


def _email_parse(
    lines: list[bytes], _class: type[http.client.HTTPMessage]
) -> http.client.HTTPMessage:
    text = b"".join(lines).decode("iso-8859-1")
    message: http.client.HTTPMessage = email.parser.Parser(_class=_class).parsestr(text)
    return message


def install() -> None:
    """Make http.client (and so urllib3 and requests) use ``parse_headers``."""
    http.client.parse_headers = parse_headers  # type: ignore[assignment]
