"""Fixtures for the unit tests: a migrated ledger on each database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from poller.store.ledger import Ledger


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    led = Ledger(db_url)
    led.migrate()
    yield led
    led.dispose()
