"""Notifications under SIGKILL: a kill after a message was sent and before its target's
cursor was recorded repeats at most that message, and never loses an event; on SQLite and
PostgreSQL, with real `poller run --once` processes and a real webhook on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.reliability.conftest import DbFactory
from tests.reliability.harness import PollerCli
from tests.support.receivers import json_receiver


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after:notify_send", "after:fetch"])
def test_a_kill_around_a_notification_repeats_at_most_it_and_loses_nothing(
    db_factory: DbFactory, tmp_path: Path, point: str
) -> None:
    db_url = db_factory()
    with Sandbox(seed=81, hires=0) as sb, json_receiver() as hook:
        broken = sb.pinpoint.add_hire("Bad", "Hire", None)  # fails: one event
        cli = PollerCli(tmp_path, sb, db_url, env={"POLLER_NOTIFY_URLS": hook.url})
        killed = cli.once(crash_at=point)
        time.sleep(1.1)  # the killed run's lease on the target (worker.lease_seconds = 1)
        runs = [cli.once(), cli.once()]
        assert all(r.returncode == 0 for r in runs), runs[0].describe()
        told = [t for t in hook.texts() if f"Application {broken}" in t]
    assert killed.killed
    if point == "after:notify_send":
        # Sent, then killed before the cursor moved: sent once more, and never again.
        assert len(told) == 2 and told[0] == told[1]
    else:  # killed before the failure (and its event) was recorded: told once, by the rerun
        assert len(told) == 1
    assert len(hook.received) == len(told)
