"""Transport: TLS is always verified, a CA bundle can be configured (corporate proxies), and
plain http is refused for anything but loopback.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
import pytest

from poller.config import load_settings
from poller.errors import RetryableError
from poller.loop.wiring import build_http
from poller.upstream.http import HttpClient
from poller.upstream.transport import make_session
from tests.security.helpers import Handler, answer, run_poller, storage_host

PACKAGE = Path(__file__).resolve().parents[2] / "poller"
# Ways Python code turns certificate checks off.
INSECURE = re.compile(
    r"verify\s*=\s*(False|0|None)\b|CERT_NONE|check_hostname\s*=\s*False"
    r"|_create_unverified_context|disable_warnings|InsecureRequestWarning|PYTHONHTTPSVERIFY"
    r"|CA_BUNDLE[\"']?\]?\s*=\s*[\"']{2}"
)


def test_make_session_always_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert make_session().verify is True
    assert make_session(ca_bundle="").verify is True
    monkeypatch.setenv("CURL_CA_BUNDLE", "")  # empty means unset, never "don't verify"
    assert make_session().verify is True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/platform.pem")
    assert make_session().verify == "/etc/ssl/platform.pem"
    assert make_session(ca_bundle="/etc/corp/ca.pem").verify == "/etc/corp/ca.pem"


def test_no_code_path_turns_certificate_checks_off() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if INSECURE.search(line)
    ]
    assert offenders == []
    # The only place that sets `verify` is make_session, and every client comes from it.
    setters = [p.name for p in PACKAGE.rglob("*.py") if re.search(r"\.verify\s*=", p.read_text())]
    assert setters == ["transport.py"]
    wiring = (PACKAGE / "loop" / "wiring.py").read_text()
    assert "session=make_session(" in wiring and "requests.Session(" not in wiring


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate; yields (base URL, cert)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"ok": True}).encode()
            answer(200, body, {"Content-Type": "application/json"})(self)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            """Refused handshakes are what the tests provoke."""

    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/v1", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _client(tmp_path: Path, base_url: str, ca_bundle: Path | None) -> Any:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[http]\nca_bundle = "{ca_bundle}"\nmax_retries = 0\n'
        if ca_bundle
        else "[http]\nmax_retries = 0\n"
    )
    settings = load_settings(str(cfg), env={})
    return build_http(settings, "pinpoint", base_url, {"X-API-KEY": "k" * 16}, {})


@pytest.fixture
def platform_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA variables many images set. requests lets them override a Session's own CA
    bundle (psf/requests#4726); the configured http.ca_bundle must win all the same."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())


@pytest.mark.usefixtures("platform_bundle")
def test_an_unknown_certificate_is_refused(tmp_path: Path, tls_server: tuple[str, Path]) -> None:
    base_url, _ = tls_server
    client = _client(tmp_path, base_url, None)
    with pytest.raises(RetryableError, match="TLS handshake failed"):
        client.request("GET", "/ping", endpoint="GET /ping")


@pytest.mark.usefixtures("platform_bundle")
def test_the_configured_ca_bundle_is_trusted(tmp_path: Path, tls_server: tuple[str, Path]) -> None:
    base_url, cert = tls_server
    client = _client(tmp_path, base_url, cert)
    assert client.request("GET", "/ping", endpoint="GET /ping").json() == {"ok": True}
    # ... and the host name is still checked against the certificate.
    other_name = _client(tmp_path, base_url.replace("localhost", "127.0.0.2"), cert)
    with pytest.raises(RetryableError):
        other_name.request("GET", "/ping", endpoint="GET /ping")


@pytest.mark.parametrize(
    ("env", "accepted"),
    [
        ({"POLLER_HIBOB__BASE_URL": "http://api.hibob.com/v1"}, False),
        ({"POLLER_PINPOINT__BASE_URL": "http://acme.pinpointhq.com/api/v1"}, False),
        ({"POLLER_PINPOINT__BASE_URL": "http://localhost.evil.example/api/v1"}, False),
        ({"POLLER_PINPOINT__BASE_URL": "http://127.0.0.1.nip.io/api/v1"}, False),
        ({"POLLER_HIBOB__BASE_URL": "http://10.0.0.5/v1"}, False),
        ({"POLLER_HIBOB__BASE_URL": "https://user:pw@api.hibob.com/v1"}, False),
        ({"POLLER_PINPOINT__BASE_URL": "http://127.0.0.1:8101/api/v1"}, True),
        ({"POLLER_HIBOB__BASE_URL": "http://[::1]:8102/v1"}, True),
        ({"POLLER_HIBOB__BASE_URL": "http://localhost:8102/v1"}, True),
    ],
)
def test_the_cli_refuses_plain_http_off_loopback(
    tmp_path: Path, env: dict[str, str], accepted: bool
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    out = run_poller("check", config=cfg, env=env, logs=tmp_path)
    assert out.returncode == 2  # without secrets, `check` always stops at the config
    key = next(iter(env)).removeprefix("POLLER_").lower().replace("__", ".")
    if accepted:
        assert key not in out.stderr, out.stderr
    else:
        assert key in out.stderr and ("https" in out.stderr or "credentials" in out.stderr)
        assert "pw@" not in out.stderr


def test_a_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[http]\nca_bundle = "/nonexistent/corp-ca.pem"\n')
    out = run_poller("check", config=cfg, logs=tmp_path)
    assert out.returncode == 2 and "http.ca_bundle" in out.stderr and "no such file" in out.stderr


def test_no_cookie_is_kept_and_no_netrc_credential_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cookie one answer sets is never sent back (the APIs are stateless; a CV host's
    cookie must not follow the poller), and ~/.netrc never adds an Authorization header."""
    with storage_host(
        {"/set": answer(200, b"{}", {"Set-Cookie": "session=abc; Path=/"}), "/again": ok()}
    ) as host:
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        client = HttpClient("pinpoint", host.origin, headers={}, session=make_session())
        client.request("GET", "/set", endpoint="GET /set")
        client.request("GET", "/again", endpoint="GET /again")
        downloader = HttpClient("pinpoint", "", headers={}, session=make_session())
        downloader.get_absolute(host.url("/again"), endpoint="GET cv").close()
    assert len(host.seen_headers) == 3
    for headers in host.seen_headers:
        assert "cookie" not in headers and "authorization" not in headers


def ok() -> Handler:
    return answer(200, b"{}", {"Content-Type": "application/json"})
