"""Process-wide secret redaction for log lines, error text and anything else shown to people.

Two kinds of masking:

* registered secrets (API keys, tokens), in every form they may take on the wire: as is,
  URL-encoded, base64-encoded, and base64-decoded (HiBob's token is base64 of
  "<service-user-id>:<token>", so its decoded form and the token part are masked too);
* shapes that carry credentials whatever their value: URL query strings (Pinpoint's signed
  CV links), passwords in database URLs, and Authorization / X-API-KEY header values.

The patterns are compiled once and swapped atomically when a secret is registered, so
``redact`` is lock-free and safe to call from any thread.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "QUERY_MASK", "Redactor", "clear_secrets", "redact", "register_secret"]

MASK = "***"
QUERY_MASK = "<redacted>"  # what a URL's query string becomes
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and digits

# https://host/path?query#fragment -> https://host/path?<redacted>
_URL_QUERY = re.compile(r"(?i)(\bhttps?://[^\s?#\"'<>]*)\?[^\s\"'<>]*")
# scheme://user:password@ -> scheme://user:***@ (a '/' ends the match so host:port/path@x is safe)
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^\s:/@\"'<>]*):[^\s@/\"'<>]+@")
# Authorization: Basic abc / 'X-API-KEY': 'abc' / x-api-key=abc
_HEADER = re.compile(
    r"(?i)\b(proxy-authorization|authorization|x-api-key)"
    r"(\"?'?\s*[:=]\s*\"?'?)"
    r"(?:(basic|bearer|token)\s+)?"
    r"[^\s\"',;}\]]+"
)

_HEADER_NAME = re.compile(r"(?i)authorization|x-api-key")


def _header_repl(match: re.Match[str]) -> str:
    scheme = f"{match.group(3)} " if match.group(3) else ""
    return f"{match.group(1)}{match.group(2)}{scheme}{MASK}"


def _variants(secret: str) -> set[str]:
    """Every form in which ``secret`` may show up in text."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    forms.add(base64.b64encode(secret.encode()).decode("ascii"))
    try:
        decoded = base64.b64decode(secret, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded.isascii() and decoded.isprintable():
        forms.add(decoded)
        # "<service-user-id>:<token>": the token alone is the secret part.
        _, sep, token = decoded.partition(":")
        if sep:
            forms.add(token)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Redactor:
    """Masks registered secrets and credential-shaped text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def register_secret(self, value: str | None) -> None:
        """Mask ``value`` (and its encoded forms) from now on. Short or empty values are ignored."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            secrets = self._secrets | _variants(value)
            if secrets == self._secrets:
                return
            # Longest first, so a secret that contains another is masked whole.
            alternation = "|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True))
            self._secrets = frozenset(secrets)
            self._pattern = re.compile(alternation)

    def clear(self) -> None:
        """Forget every registered secret (for tests)."""
        with self._lock:
            self._secrets = frozenset()
            self._pattern = None

    def redact(self, text: str) -> str:
        if len(text) < MIN_SECRET_LENGTH:
            return text  # too short to hold a secret or any credential shape
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        # Each shape needs a marker a cheap substring test finds (most log values have none).
        if "://" in text:
            text = _URL_QUERY.sub(rf"\1?{QUERY_MASK}", text)
            text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
        if _HEADER_NAME.search(text):  # same case rules as _HEADER (re's, not str.lower's)
            text = _HEADER.sub(_header_repl, text)
        return text


_REDACTOR = Redactor()


def register_secret(value: str | None) -> None:
    """Register a secret with the process-wide redactor."""
    _REDACTOR.register_secret(value)


def clear_secrets() -> None:
    """Forget every secret registered with the process-wide redactor (for tests)."""
    _REDACTOR.clear()


# Mask secrets, URL query strings, DB passwords and auth headers in a text. The redactor's
# own bound method, not a wrapper: every string of every log line goes through it.
redact = _REDACTOR.redact
