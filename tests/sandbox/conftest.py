"""Fixtures: a Sandbox on ephemeral loopback ports, and authenticated sessions for each API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import NOW


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, hires=12, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def pp(sb: Sandbox) -> Iterator[requests.Session]:
    """A session for Pinpoint; call it with paths relative to the API base."""
    with requests.Session() as session:
        session.headers.update(
            {"X-API-KEY": sb.pinpoint_api_key, "Accept": "application/vnd.api+json"}
        )
        yield session


@pytest.fixture
def bob(sb: Sandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update({"Authorization": f"Basic {sb.hibob_token}"})
        yield session
