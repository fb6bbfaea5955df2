"""The status page's defences, over real HTTP to a running `poller web`, on a table that a real
cycle on the simulators filled (a hostile candidate name and a signed CV link included)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox
from poller.web.app import SECURITY_HEADERS
from tests.e2e.harness import make_poller
from tests.e2e.webserver import (
    HOSTILE_FIRST,
    HOSTILE_NAME,
    POLLER,
    add_hostile_hire,
    clean_env,
    web_server,
)
from tests.security.helpers import CVLinks, credential_strings, scan

TOKEN = "web-tok-Zq8s1v0PLx"  # the status page's access token in these tests
EVIL_SIGNATURE = "7e1a" * 16
ANY = "0.0.0.0"  # noqa: S104 - binding everywhere is what these tests are about


@dataclass
class World:
    config: Path
    hostile_id: str
    ids: list[str]
    needles: dict[str, str]  # what no page may ever contain


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("web-security")
    with Sandbox(seed=41, hires=6) as sb, pytest.MonkeyPatch.context() as mp:
        links = CVLinks(sb, mp)
        hostile = add_hostile_hire(sb)
        # A CV link off the allowlist: the row fails with a reason, never with the link.
        evil = sb.pinpoint.add_hire("Eve", "Mallory", "eve@example.com", cv="pdf")
        links.overrides[evil] = (
            f"https://cv-store.evil.example/cv.pdf?X-Amz-Signature={EVIL_SIGNATURE}"
        )
        poller = make_poller(home, sb, f"sqlite:///{home}/poller.db")
        try:
            assert poller.run().ok
            rows = poller.ledger.rows(limit=0)
        finally:
            poller.close()
        needles = {**credential_strings(sb), **links.secret_parts(), "web token": TOKEN}
        assert any(k.startswith("signature") for k in needles)  # links were issued and seen
        yield World(home / "config.toml", hostile, [r.application_id for r in rows], needles)


def get(url: str, **kw: Any) -> requests.Response:
    with requests.Session() as s:
        s.trust_env = False  # no proxy from the environment for loopback
        return s.request(kw.pop("method", "GET"), url, timeout=10, **kw)


def assert_secure_headers(response: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src" not in csp  # default-src 'none' rules
    assert "frame-ancestors 'none'" in csp
    assert "Server" not in response.headers


def test_binding_off_loopback_without_a_token_is_refused(world: World) -> None:
    for host in (ANY, "::", "192.0.2.10"):
        out = subprocess.run(
            [*POLLER, "--config", str(world.config), "web", "--host", host, "--port", "0"],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
            check=False,
        )
        assert out.returncode == 2, out.stderr
        assert "refusing to serve the status page" in out.stderr
        assert "POLLER_WEB_TOKEN" in out.stderr and "Traceback" not in out.stderr
        assert "status page: http" not in out.stdout  # it never listened


def test_with_a_token_every_request_needs_it_as_the_basic_password(world: World) -> None:
    token_file = world.config.parent / "web-token"
    token_file.write_text(TOKEN + "\n")
    env = {"POLLER_WEB_TOKEN_FILE": str(token_file), "POLLER_LOGGING__LEVEL": "DEBUG"}
    with web_server(world.config, "--host", ANY, env=env) as web:
        url = web.url.replace(ANY, "127.0.0.1")
        for path in ("/", "/applications", f"/applications/{world.ids[0]}", "/static/style.css"):
            missing = get(url + path)
            assert missing.status_code == 401, path
            assert missing.headers["WWW-Authenticate"].startswith("Basic ")
            assert_secure_headers(missing)
            assert get(url + path, auth=("any", TOKEN + "x")).status_code == 401
            assert get(url + path, auth=("any", TOKEN[:-1])).status_code == 401
            assert get(url + path, auth=(TOKEN, "")).status_code == 401  # not as the user
            assert get(url + path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
            assert get(url + path, auth=("anyone", TOKEN)).status_code == 200
        # Off loopback, any Host header is fine once authenticated.
        assert get(url, auth=("x", TOKEN), headers={"Host": "status.internal"}).status_code == 200
        wrong = get(url, auth=("any", "wrong"))
        assert TOKEN not in wrong.text
    assert TOKEN not in web.stderr  # never logged, not even masked in part
    assert '"status": 401' in web.stderr  # the request lines are there


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
def test_only_get_and_head_are_served(world: World, method: str) -> None:
    with web_server(world.config, env={"POLLER_WEB_TOKEN": TOKEN}) as web:
        for path in ("/", "/applications", f"/applications/{world.hostile_id}", "/nowhere"):
            out = get(web.url + path, method=method, auth=("u", TOKEN), data={"state": "done"})
            assert out.status_code == 405, (method, path)
            assert out.headers["Allow"] == "GET, HEAD"
            assert_secure_headers(out)
        head = get(web.url + "/applications", method="HEAD", auth=("u", TOKEN))
        assert head.status_code == 200 and head.content == b""


def _pages(base: str, ids: list[str], **kw: Any) -> dict[str, requests.Response]:
    paths = ["/", "/applications", "/applications?state=failed", "/applications?q=script"]
    paths += [f"/applications/{i}" for i in ids]
    paths += ["/static/style.css", "/static/favicon.svg", "/applications/nope", "/nope"]
    return {path: get(base + path, **kw) for path in paths}


def test_every_page_escapes_has_the_headers_and_holds_no_secret(world: World) -> None:
    with web_server(world.config, env={"POLLER_LOGGING__LEVEL": "DEBUG"}) as web:
        pages = _pages(web.url, world.ids)
        # Without a token, only loopback Host headers are answered (no DNS rebinding).
        rebound = get(web.url, headers={"Host": "attacker.example"})
        assert rebound.status_code == 400
        assert_secure_headers(rebound)
        assert get(web.url, headers={"Host": "localhost"}).status_code == 200
    assert pages["/applications/nope"].status_code == 404
    assert pages["/nope"].status_code == 404
    for path, page in pages.items():
        assert_secure_headers(page)
        if page.headers["Content-Type"].startswith("text/html"):
            assert "<script" not in page.text.lower(), path  # no script at all, ours or theirs
            assert not re.search(r"\son[a-z]+=", page.text), path  # no event handler attributes
            assert "style=" not in page.text, path  # no inline style for the CSP to refuse
            assert "http://" not in page.text.replace('xmlns="http://www.w3.org', ""), path
            assert "https://" not in page.text, path  # no third-party asset, no link out
    listing = pages["/applications?q=script"].text
    escaped = HOSTILE_FIRST.replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in listing and f"/applications/{world.hostile_id}" in listing
    one = pages[f"/applications/{world.hostile_id}"]
    assert one.status_code == 200 and escaped + " Tester" in one.text
    assert HOSTILE_NAME not in one.text
    places = {path: page.content for path, page in pages.items()}
    places["server log"] = web.stderr.encode()
    assert scan(places, world.needles) == []
    assert "X-Amz-Signature" not in "".join(p.text for p in pages.values())
    failed = pages["/applications?state=failed"].text
    assert "cv-store.evil.example" in failed  # the reason is there, the signed query is not
