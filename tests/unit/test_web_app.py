"""The status page's WSGI app in-process (Werkzeug's test client): parameters, links, errors."""

from __future__ import annotations

import ast
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from werkzeug.test import Client

from poller.errors import StoreError
from poller.store.ledger import Ledger
from poller.store.schema import processed_applications as apps_t
from poller.web.app import SECURITY_HEADERS, StatusApp

NOW = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
WEB = Path(__file__).resolve().parents[2] / "poller" / "web"


@pytest.fixture
def ledger(sqlite_url: str) -> Iterator[Ledger]:
    writer = Ledger(sqlite_url)
    writer.migrate()
    rows = [
        {
            "application_id": f"{100 + i}",
            "state": "done" if i % 2 else "failed",
            "attempts": 1,
            "created_at": NOW,
            "updated_at": NOW - timedelta(minutes=i),
            "candidate_name": f"Person {i}",
            "completed_at": NOW if i % 2 else None,
            "last_error": None if i % 2 else "CV https://cv.example/x.pdf?X-Amz-Signature=abc",
        }
        for i in range(7)
    ]
    with writer.engine.begin() as conn:
        conn.execute(insert(apps_t), rows)
    writer.dispose()
    reader = Ledger(sqlite_url, read_only=True)
    yield reader
    reader.dispose()


def client(ledger: Ledger, **kw: Any) -> Client:
    return Client(StatusApp(ledger, page_size=3, clock=lambda: NOW, **kw))


def test_pages_link_to_each_other_keeping_the_filter(ledger: Ledger) -> None:
    c = client(ledger)
    first = c.get("/applications?state=failed&q=person")
    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert "4 rows, page 1 of 2" in body
    assert 'href="/applications?state=failed&amp;q=person&amp;page=2"' in body
    second = c.get("/applications?state=failed&q=person&page=2").get_data(as_text=True)
    assert 'href="/applications?state=failed&amp;q=person&amp;page=1"' in second
    assert 'id="next"' not in second and 'id="prev"' in second
    assert "No rows match" in c.get("/applications?page=9").get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["page=x", "page=0", "page=-1", "page=99999999", "state=DROP%20TABLE", "state=a-b"]
)
def test_bad_parameters_are_400(ledger: Ledger, query: str) -> None:
    response = client(ledger).get(f"/applications?{query}")
    assert response.status_code == 400
    assert (
        response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    )


def test_signed_urls_are_redacted_in_pages(ledger: Ledger) -> None:
    body = client(ledger).get("/applications/100").get_data(as_text=True)
    assert "https://cv.example/x.pdf?&lt;redacted&gt;" in body
    assert "X-Amz-Signature" not in body and "abc" not in body


def test_the_chart_counts_done_rows_per_day(ledger: Ledger) -> None:
    body = client(ledger).get("/").get_data(as_text=True)
    assert body.count('class="bar"') == 30
    assert 'data-hires="3"' in body and "(3 in all)" in body


def test_an_unreadable_store_is_503_without_details(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise StoreError("database error during get: connection to 10.0.0.5 refused")

    monkeypatch.setattr(ledger, "get", broken)
    response = client(ledger).get("/applications/100")
    assert response.status_code == 503 and "10.0.0.5" not in response.get_data(as_text=True)


def test_head_and_static_files(ledger: Ledger) -> None:
    c = client(ledger)
    head = c.head("/")
    assert head.status_code == 200 and head.get_data() == b""
    css = c.get("/static/style.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert c.get("/static/../app.py").status_code == 404
    assert c.get("/static/app.py").status_code == 404


def test_a_token_with_non_ascii_guesses_is_just_401(ledger: Ledger) -> None:
    import base64

    c = client(ledger, token="sésame-42")
    good = base64.b64encode("me:sésame-42".encode()).decode()
    bad = base64.b64encode("me:sésame-4²".encode()).decode()
    assert c.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert c.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    assert c.get("/", headers={"Authorization": "Basic %%%"}).status_code == 401


def test_every_token_check_is_a_constant_time_compare(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`==` on bytes stops at the first differing byte, so its timing tells how much of a guess
    was right: the app must compare the password with hmac.compare_digest, on every request,
    right or wrong."""
    import base64

    real = hmac.compare_digest
    compared: list[tuple[object, object]] = []

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    # Through the app module's own name for hmac: what its token check calls.
    monkeypatch.setattr("poller.web.app.hmac.compare_digest", spy)
    c = client(ledger, token="s3cret-token")

    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"me:{password}".encode()).decode()}

    for password, status in [
        ("s3cret-token", 200),
        ("s3cret-tokem", 401),  # all but the last byte right
        ("x", 401),  # a different length
        ("", 401),
    ]:
        compared.clear()
        assert c.get("/", headers=basic(password)).status_code == status
        assert compared == [(password.encode(), b"s3cret-token")], (
            f"the token was not compared with hmac.compare_digest for {password!r}"
        )
    compared.clear()
    assert c.get("/applications", headers=basic("s3cret-token")).status_code == 200
    assert len(compared) == 1


def test_the_web_package_never_imports_sqlalchemy_or_requests() -> None:
    for path in WEB.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in {"sqlalchemy", "requests"}, (path, name)


def test_open_changes_are_a_filter_a_count_and_a_table_on_the_row(sqlite_url: str) -> None:
    writer = Ledger(sqlite_url)
    writer.migrate()
    with writer.engine.begin() as conn:
        conn.execute(
            insert(apps_t),
            [
                {
                    "application_id": app,
                    "state": "done",
                    "attempts": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "hibob_employee_id": f"e{app}",
                }
                for app in ("201", "202")
            ],
        )
    flagged = ("email", "a@x.com", "<b>@x.com", "flagged", "look at it", None)
    synced = ("start_date", "2026-04-01", "2026-04-15", "synced", None, None)
    writer.record_sighting("201", old=None, new="a", changes=[flagged, synced], now=NOW)  # type: ignore[list-item]
    writer.record_sighting("202", old=None, new="a", changes=[synced], now=NOW)  # type: ignore[list-item]
    writer.dispose()
    reader = Ledger(sqlite_url, read_only=True)
    try:
        c = client(reader)
        index = c.get("/").get_data(as_text=True)
        assert '<td class="num" data-state="changed">1</td>' in index
        listed = c.get("/applications?state=changed").get_data(as_text=True)
        assert 'href="/applications/201"' in listed and 'href="/applications/202"' not in listed
        row = c.get("/applications/201").get_data(as_text=True)
        assert 'data-field="email" data-action="flagged"' in row
        assert "&lt;b&gt;@x.com" in row and "<b>@x.com" not in row
        assert 'data-field="start_date" data-action="synced"' in row
        assert 'class="change-open' not in c.get("/applications/202").get_data(as_text=True)
    finally:
        reader.dispose()
