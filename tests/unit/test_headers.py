"""The fast header parser gives what http.client's own (the email parser) gives, always."""

from __future__ import annotations

import email.parser
import http.client
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poller.upstream.headers import parse_headers


def stdlib(block: bytes) -> http.client.HTTPMessage:
    lines = http.client._read_headers(io.BytesIO(block))  # type: ignore[attr-defined]
    text = b"".join(lines).decode("iso-8859-1")
    message: http.client.HTTPMessage = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
        text
    )
    return message


def same(block: bytes) -> None:
    ours, theirs = parse_headers(io.BytesIO(block)), stdlib(block)
    assert ours.items() == theirs.items()
    for name in {n for n, _ in theirs.items()}:
        assert ours.get_all(name) == theirs.get_all(name)
    assert ours.get("content-length") == theirs.get("content-length")
    for name in {n for n, _ in theirs.items()} | {"content-length", "absent"}:
        for variant in (name, name.upper(), name.lower()):
            assert ours.get(variant) == theirs.get(variant)
            assert ours.get(variant, "none") == theirs.get(variant, "none")
            assert ours[variant] == theirs[variant]
    assert ours.values() == theirs.values()
    assert isinstance(ours, http.client.HTTPMessage)


@pytest.mark.parametrize(
    "block",
    [
        b"Content-Type: application/json\r\nContent-Length: 12\r\n\r\nbody",
        b"X-RateLimit-Limit: 50\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: 17\r\n\r\n",
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",  # repeated
        b"Empty:\r\nSpaced:    value  \r\n\r\n",
        b"Tabbed:\tvalue\r\n\r\n",
        b"Latin: caf\xe9\r\n\r\n",
        b"Folded: first\r\n  second line\r\nNext: x\r\n\r\n",  # obs-fold: the email parser
        b"No colon here\r\nAfter: x\r\n\r\n",  # a defect: the rest is body
        b"Bad Name: x\r\n\r\n",  # a space in the name
        b"From someone\r\nA: b\r\n\r\n",
        b"A: b\nC: d\n\n",  # bare LF
        b"A: b\rc\r\nD: e\r\n\r\n",  # a lone CR: the email parser breaks the line there
        b"A: b\r\r\n\r\n",
        b"A:\r\r\nB: c\r\n\r\n",  # the lone CR then CRLF ends the headers: B is body
        b"A: b\x00c\x0bd\x85e\r\n\r\n",
        b"\r\n",  # no headers at all
        b"",  # the connection closed
    ],
)
def test_known_shapes(block: bytes) -> None:
    same(block)


_NAME = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=12
)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x09, max_codepoint=0xFF), max_size=20)


@settings(max_examples=500)
@given(
    st.lists(st.tuples(_NAME, st.sampled_from([":", ": ", ":\t", "", " :"]), _VALUE), max_size=6)
)
def test_any_block_parses_as_the_email_parser_parses_it(
    headers: list[tuple[str, str, str]],
) -> None:
    # What _read_headers can hand over: lines split at LF only, so a CR may sit anywhere.
    lines = [f"{n}{sep}{v}".replace("\n", "") for n, sep, v in headers]
    same(("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1"))


def test_http_client_uses_it_once_the_transport_is_imported() -> None:
    import poller.upstream.transport  # noqa: F401  # installs it

    assert http.client.parse_headers is parse_headers
