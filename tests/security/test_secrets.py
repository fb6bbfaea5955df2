"""Secrets never leave through output, logs or the store, whatever goes wrong on the way.

The main test runs a whole batch as deployments do (`poller run --once` processes, JSON logs
at DEBUG) through every failure the simulators can stage, then scans every byte the poller
left behind for every credential and every signed CV link the simulator issued.
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from poller.config import load_settings
from poller.errors import PollerError
from poller.sandbox import Sandbox
from poller.store.ledger import Ledger
from poller.upstream.http import HttpClient
from tests.e2e.harness import write_config
from tests.security.helpers import (
    CVLinks,
    Run,
    credential_strings,
    files_under,
    run_poller,
    scan,
    text_values,
)
from tests.support.config import secrets_env

EVIL_SIGNATURE = "5f0c" * 16  # planted in a crafted, off-allowlist CV link
LOUD = {"logging": {"level": "DEBUG", "format": "json"}}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(database URL, its password or None). PostgreSQL's URL carries a password that trust
    auth ignores, so the test can prove it never shows."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/home/poller.db", None
        return
    from sqlalchemy.engine import make_url

    plain = make_url(str(request.getfixturevalue("postgres_url")))
    password = f"PGPW-{uuid.uuid4().hex[:16]}"
    yield plain.set(password=password).render_as_string(hide_password=False), password


def _pg_text(url: str) -> bytes:
    """Every text cell of every table of the poller's PostgreSQL database."""
    from sqlalchemy import create_engine, text

    from poller.db_url import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            columns = conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
                )
            ).all()
            rows = [
                conn.execute(text(f'SELECT "{column}" FROM "{table}"')).all()  # noqa: S608
                for table, column in columns
            ]
    finally:
        engine.dispose()
    return b"\n".join(text_values(r) for r in rows)


def test_no_secret_anywhere_after_a_hostile_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: tuple[str, str | None]
) -> None:
    db_url, db_password = store
    home = tmp_path / "home"
    home.mkdir()
    runs: list[Run] = []
    with Sandbox(seed=31, hires=10) as sb:
        links = CVLinks(sb, monkeypatch)
        evil = sb.pinpoint.add_hire("Eve", "Mallory", "eve@example.com", cv="pdf")
        links.overrides[evil] = (
            "https://cv-store.evil.example/cv.pdf?X-Amz-Date=20250101T000000Z"
            f"&X-Amz-Signature={EVIL_SIGNATURE}"
        )
        inner = sb.pinpoint.add_hire("Ian", "Ternal", "ian@example.com", cv="pdf")
        links.overrides[inner] = f"https://10.1.2.3/cv.pdf?X-Amz-Signature={EVIL_SIGNATURE[::-1]}"
        extra: dict[str, dict[str, Any]] = {**LOUD, "cv": {"mode": "upload"}}
        # The URL (and any password in it) comes from the environment, as deployments do.
        cfg = write_config(home / "config.toml", sb, "sqlite:///unused.db", extra)
        env = {**secrets_env(sb), "POLLER_DATABASE__URL": db_url}

        def poller(*args: str, **kw: Any) -> Run:
            run = run_poller(*args, config=cfg, env={**env, **kw.pop("env", {})}, logs=home, **kw)
            runs.append(run)
            return run

        # A 401 once: the cycle stops (exit 1) and says so, without the key.
        sb.faults("pinpoint", "GET /applications", error_rate="always", error_status=401, times=1)
        assert poller("run", "--once").returncode == 1
        assert "401" in runs[-1].stderr

        # 5xx, lost answers and hostile bodies everywhere; CV downloads refused or mangled.
        sb.faults("pinpoint", "GET /applications/{id}", hostile="truncated", hostile_rate=0.3)
        sb.faults("pinpoint", "POST /comments", lose_rate=0.3)
        sb.faults(
            "pinpoint",
            "GET /files/{token}/{filename}",
            error_rate=0.2,
            hostile="html",
            hostile_rate=0.2,
        )
        sb.faults("hibob", "POST /people", error_rate=0.2, lose_rate=0.2)
        sb.faults("hibob", "POST /people/search", hostile="html", hostile_rate=0.2)
        sb.faults(
            "hibob", "POST /docs/people/{id}/shared/upload", hostile="empty", hostile_rate=0.3
        )
        ledger = Ledger(db_url)
        try:
            for _ in range(6):
                assert poller("run", "--once").returncode == 0, runs[-1].stderr
                counts = ledger.counts()
                if counts["pending"] == counts["in_progress"] == 0:
                    break
            failed = [r.application_id for r in ledger.rows(state="failed", limit=0)]
            assert evil in failed  # its link is refused before any download
            poller("show", evil)
            poller("show", failed[-1], "--format", "json")
            poller("status")

            # Whatever failed, again without faults and in url mode: the signed links now
            # travel to HiBob inside a request body.
            sb.reset_faults()
            write_config(
                home / "config.toml", sb, "sqlite:///unused.db", {**LOUD, "cv": {"mode": "url"}}
            )
            assert poller("retry", "--all-failed").returncode == 0
            assert poller("run", "--once").returncode == 0
            assert evil in poller("list", "--format", "json", "--limit", "0").stdout
            rows = {r.application_id: r for r in ledger.rows(limit=0)}
        finally:
            ledger.dispose()
        for app_id in (evil, inner):
            assert (rows[app_id].state, rows[app_id].cv_status) == ("failed", "skipped")
        # Everyone else is done, but the seeded anonymised candidate (no email to map).
        assert all(
            r.state == "done" or r.last_error_step == "map"
            for r in rows.values()
            if r.application_id not in (evil, inner)
        )

        # A store outage with a password in its URL.
        outage = poller(
            "run",
            "--once",
            env={"POLLER_DATABASE__URL": "postgresql://u:OUTAGE-PW-91@127.0.0.1:1/x"},
        )
        assert outage.returncode == 1 and "database" in outage.stderr

        audit = sb.audit()
        statuses = audit.statuses()
        needles = {
            **credential_strings(sb),
            **links.secret_parts(),
            "outage db password": "OUTAGE-PW-91",
        }
        if db_password:
            needles["db password"] = db_password

    # The batch really went through the failures it claims to.
    assert statuses.get(401) and statuses.get(503) and statuses.get(502)
    assert len([n for n in needles if n.startswith("signature")]) >= 10
    places = files_under(home)  # config, logs (stdout/stderr of every run), SQLite + WAL
    places.update({f"stdout of {' '.join(r.args)}": r.stdout.encode() for r in runs})
    places.update({f"stderr of {' '.join(r.args)}": r.stderr.encode() for r in runs})
    if db_password:
        places["postgres text columns"] = _pg_text(db_url)
    hits = scan(places, needles)
    print(f"secret scan: {len(needles)} strings x {len(places)} places, hits={len(hits)}")
    assert hits == []
    # ... and the store is not empty: the scan looked at real rows and history.
    store_bytes = places.get("poller.db", b"") + places.get("postgres text columns", b"")
    store_bytes += places.get("poller.db-wal", b"")
    assert b"eve@example.com" in store_bytes
    assert b"cv-store.evil.example" in store_bytes  # the host is named, never the query


def test_secrets_in_config_toml_or_poller_env_are_refused_by_the_cli(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[pinpoint]\napi_key = "pp_live_CONFIGKEY123"\n'
        '[hibob]\nbase64_token = "Y29uZmlnOnRva2VuOTk5"\n'
        '[secrets]\nanything = "SECTIONSECRET77"\n'
    )
    out = run_poller(
        "check", config=cfg, logs=tmp_path, env={"POLLER_HIBOB__PASSWORD": "ENVPASSWORD55"}
    )
    assert out.returncode == 2
    for key in ("pinpoint.api_key", "hibob.base64_token", "secrets", "hibob.password"):
        assert key in out.stderr
    assert "PINPOINT_API_KEY" in out.stderr and "HIBOB_BASE64_TOKEN" in out.stderr
    for value in ("CONFIGKEY123", "Y29uZmlnOnRva2VuOTk5", "SECTIONSECRET77", "ENVPASSWORD55"):
        assert value not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_secrets_from_files_work_and_both_forms_at_once_are_refused(tmp_path: Path) -> None:
    with Sandbox(seed=8, hires=2) as sb:
        cfg = write_config(tmp_path / "config.toml", sb, f"sqlite:///{tmp_path}/p.db", LOUD)
        key_file, token_file = tmp_path / "key", tmp_path / "token"
        key_file.write_text(sb.pinpoint_api_key + "\n")  # mounted secrets end in a newline
        token_file.write_text(sb.hibob_token + "\n")
        files = {"PINPOINT_API_KEY_FILE": str(key_file), "HIBOB_BASE64_TOKEN_FILE": str(token_file)}
        ok = run_poller("run", "--once", config=cfg, env=files, logs=tmp_path / "logs")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout.splitlines()[-1])["outcomes"]["done"] == 2
        both = run_poller(
            "run", "--once", config=cfg, env={**files, **secrets_env(sb)}, logs=tmp_path / "logs"
        )
        assert both.returncode == 2 and "set only one" in both.stderr
        needles = credential_strings(sb)
    assert scan(files_under(tmp_path / "logs"), needles) == []


def test_settings_never_show_secrets(tmp_path: Path) -> None:
    token = "c3ZjLXVzZXI6dG9rZW4tNDI0Mg=="  # base64("svc-user:token-4242")
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    settings = load_settings(
        str(cfg), env={"PINPOINT_API_KEY": "pp_KEY_777777", "HIBOB_BASE64_TOKEN": token}
    )
    shown = " ".join(
        [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())]
    )
    for secret in ("pp_KEY_777777", token, "svc-user:token-4242", "token-4242"):
        assert secret not in shown


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _everything_about(exc: BaseException) -> str:
    """All an error could show: message, repr, args, attributes and its chain."""
    parts = ["".join(traceback.format_exception_only(exc)), repr(exc), repr(exc.args)]
    parts.append(repr(vars(exc)))
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(repr(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b""),
        (403, b'{"errors":[{"title":"Forbidden","detail":"key pp_HEADER_SECRET_1 denied"}]}'),
        (500, b"<html>X-API-KEY: pp_HEADER_SECRET_1</html>"),
        (422, b'{"key":"x","error":"Authorization: Basic c3ZjOnBw was refused"}'),
        (None, b""),  # no answer at all: a connection error from requests
    ],
)
def test_http_errors_carry_no_request_headers(
    mocked: responses.RequestsMock, status: int | None, body: bytes
) -> None:
    url = "https://api.example.com/v1/people?sig=QUERYSECRET"
    if status is None:
        mocked.add(responses.POST, url, body=requests.ConnectionError(f"failed: {url}"))
    else:
        mocked.add(responses.POST, url, status=status, body=body)
    client = HttpClient(
        "hibob",
        "https://api.example.com/v1",
        headers={"X-API-KEY": "pp_HEADER_SECRET_1", "Authorization": "Basic c3ZjOnBw"},
        max_retries=0,
        sleep=lambda _: None,
    )
    with pytest.raises(PollerError) as info:
        client.request(
            "POST", "/people?sig=QUERYSECRET", endpoint="POST /people", json={"firstName": "Ann"}
        )
    shown = _everything_about(info.value)
    for secret in ("pp_HEADER_SECRET_1", "c3ZjOnBw", "QUERYSECRET"):
        assert secret not in shown
    assert info.value.__context__ is None and info.value.__cause__ is None
