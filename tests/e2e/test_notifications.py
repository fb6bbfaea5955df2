"""Notifications to real receivers on loopback, through Apprise: a json:// webhook (an HTTP
server the test runs) and mailto:// (an aiosmtpd SMTP server), on SQLite and PostgreSQL.

- a failed hire and an un-hire are each told once, to each target, with who, what and what
  to do, and a link to the status page's row;
- a quiet cycle tells nothing;
- while a target answers 503, a new failure waits for it (the other target has it at once),
  and it is told once when the target is back;
- no key, token, signed CV link or notification URL is in any message;
- `poller notify --test` exits 0 with the targets up, 1 with one down, 2 with none set;
- with no target set, not a single extra request is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poller import metrics
from poller.config import load_settings
from poller.cycle import Cycle
from poller.loop.wiring import build_ledger, build_services
from poller.sandbox import Sandbox
from tests.e2e.harness import Poller, write_config
from tests.e2e.test_cli import poller
from tests.support.config import secrets_env
from tests.support.receivers import JsonReceiver, SmtpReceiver, json_receiver, smtp_receiver

PUBLIC = "https://poller.example.com"
EXTRA = {
    "discovery": {"full_reconcile_hours": 1e-9},  # every cycle after the first is full
    "web": {"public_url": PUBLIC},
    "cv": {"mode": "url"},
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=41, hires=0) as sb:
        yield sb


@pytest.fixture
def receivers() -> Iterator[tuple[JsonReceiver, SmtpReceiver]]:
    with json_receiver() as hook, smtp_receiver() as mail:
        yield hook, mail


def start(tmp_path: Path, sb: Sandbox, db_url: str, urls: str | None) -> Poller:
    path = write_config(tmp_path / "config.toml", sb, db_url, EXTRA)
    env = secrets_env(sb) | ({"POLLER_NOTIFY_URLS": urls} if urls else {})
    settings = load_settings(str(path), env=env)
    ledger = build_ledger(settings)
    ledger.migrate()
    svc = build_services(settings, ledger)
    svc.clock = sb.clock.now
    return Poller(settings, ledger, svc, Cycle(svc))


def sent(outcome: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("poller_notifications_total", {"outcome": outcome}) or 0
    )


def leaks(sb: Sandbox, texts: list[str], urls: list[str]) -> list[str]:
    needles = [sb.pinpoint_api_key, sb.hibob_token, "X-Amz-Signature", *urls]
    return [n for n in needles for t in texts if n in t]


def test_failures_and_unhires_are_told_once_to_each_target(
    tmp_path: Path,
    sandbox: Sandbox,
    db_url: str,
    receivers: tuple[JsonReceiver, SmtpReceiver],
) -> None:
    hook, mail = receivers
    pp = sandbox.pinpoint
    good = pp.add_hire("Ada", "Lovelace", "ada@example.com")
    later = pp.add_hire("Alan", "Turing", "alan@example.com")
    broken = pp.add_hire("Bad", "Hire", None)  # no email: the row fails, for a person
    p = start(tmp_path, sandbox, db_url, f"{hook.url} {mail.url}")
    sent_before, failed_before = sent("sent"), sent("failed")
    try:
        assert p.run().ok
        assert len(hook.received) == len(mail.messages) == 1
        (told,) = hook.texts()
        assert f"application {broken}" in told.lower() and "failed" in told
        assert f"poller retry {broken}" in told
        assert f"{PUBLIC}/applications/{broken}" in told
        assert good not in told and later not in told  # done hires aren't told by default
        (mailed,) = mail.texts()
        assert f"poller retry {broken}" in mailed

        assert p.run().ok  # a quiet cycle tells nothing
        assert len(hook.received) == len(mail.messages) == 1

        hook.status = 503  # the webhook is down
        second = pp.add_hire("Also", "Broken", None)
        assert p.run().ok
        assert p.run().ok  # still down: it waits again, and the cycle is still fine
        assert hook.refused == 2 and len(hook.received) == 1
        assert len(mail.messages) == 2 and second in mail.texts()[1]
        hook.status = 200  # back
        pp.move_application(later, "Rejected")
        assert p.run().ok
        assert len(hook.received) == 2
        back = hook.texts()[1]
        assert second in back and broken not in back  # told once, the old one not again
        assert f"application {later}" in back.lower() and "Rejected" in back
        assert f"poller ack {later}" in back
        assert len(mail.messages) == 3 and "Rejected" in mail.texts()[2]
        assert p.run().ok
        assert len(hook.received) == 2 and len(mail.messages) == 3

        assert sent("sent") - sent_before == 5 and sent("failed") - failed_before == 2
        texts = hook.texts() + mail.texts()
        assert leaks(sandbox, texts, [hook.url, mail.url]) == []
    finally:
        p.close()


def test_changes_and_done_are_told_when_asked(
    tmp_path: Path, sandbox: Sandbox, sqlite_url: str, receivers: tuple[JsonReceiver, Any]
) -> None:
    hook, _ = receivers
    today = sandbox.clock.now().date()
    app = sandbox.pinpoint.add_hire("Grace", "Hopper", "grace@example.com", start_date=today)
    path = write_config(
        tmp_path / "config.toml",
        sandbox,
        sqlite_url,
        EXTRA | {"notify": {"events": ["done", "changed"]}},
    )
    settings = load_settings(str(path), env=secrets_env(sandbox) | {"POLLER_NOTIFY_URLS": hook.url})
    ledger = build_ledger(settings)
    ledger.migrate()
    svc = build_services(settings, ledger)
    svc.clock = sandbox.clock.now
    p = Poller(settings, ledger, svc, Cycle(svc))
    try:
        assert p.run().ok
        (done,) = hook.texts()
        assert "in HiBob" in done and f"application {app}" in done.lower()
        sandbox.pinpoint.edit_candidate(app, email="grace.hopper@example.com")
        assert p.run().ok
        changed = hook.texts()[1]
        assert "grace@example.com -> grace.hopper@example.com" in changed
        assert f"poller ack {app}" in changed
    finally:
        p.close()


def test_notify_test_exits_by_what_the_targets_did(
    tmp_path: Path, sandbox: Sandbox, receivers: tuple[JsonReceiver, SmtpReceiver]
) -> None:
    hook, mail = receivers
    cfg = write_config(tmp_path / "config.toml", sandbox, f"sqlite:///{tmp_path}/p.db")
    both = {"POLLER_NOTIFY_URLS": f"{hook.url},{mail.url}"}
    up = poller("notify", "--test", config=cfg, env=both)
    assert up.returncode == 0, up.stderr
    assert len(hook.received) == len(mail.messages) == 1
    hook.status = 503
    down = poller("notify", "--test", config=cfg, env=both)
    assert down.returncode == 1
    assert "json://127.0.0.1" in down.stderr and "/hook" not in down.stderr
    none = poller("notify", "--test", config=cfg, env={})
    assert none.returncode == 2 and "POLLER_NOTIFY_URLS" in none.stderr
    bad = poller("notify", "--test", config=cfg, env={"POLLER_NOTIFY_URLS": "nosuch://x/yz"})
    assert bad.returncode == 2


def test_no_target_means_no_notification_and_no_extra_request(
    tmp_path: Path, sandbox: Sandbox, sqlite_url: str
) -> None:
    sandbox.pinpoint.add_hire("Bad", "Hire", None)
    p = start(tmp_path, sandbox, sqlite_url, None)
    try:
        assert p.run().ok and p.run().ok
        with p.ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM notifications").scalar() == 0
        assert not any("notify" in k for k in p.ledger.get_state())
    finally:
        p.close()


def test_a_url_in_the_config_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notify]\nurls = ["slack://TokenA/TokenB/TokenC"]\n')
    out = poller("status", config=cfg)
    assert out.returncode == 2
    assert "notify.urls" in out.stderr and "POLLER_NOTIFY_URLS" in out.stderr
    assert "TokenB" not in out.stderr
