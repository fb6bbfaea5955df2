"""Tools for the security suite: the poller as a measured subprocess, a recorder of the signed
CV links the Pinpoint simulator hands out, a hostile "storage host", and a byte-level scanner.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from poller.sandbox import Sandbox
from tests.support.config import POLLER

_OWN_ENV = ("POLLER_", "PINPOINT_", "HIBOB_")


@dataclass
class Run:
    """One finished `poller` process."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float  # peak resident set size of this process alone (wait4)
    seconds: float


# Linux keeps a process's peak RSS across execve, so a child forked straight from pytest
# would report pytest's size. A small launcher forks the poller instead and reports its
# child's own peak (wait4) into a file.
_LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_poller(
    *args: str,
    config: Path | None,
    env: dict[str, str] | None = None,
    logs: Path | None = None,
    timeout: float = 60,
    stdin: str | None = None,
) -> Run:
    """Run `poller ARGS` with a clean environment; stdout and stderr are kept in files under
    ``logs`` (the process's "log files"), and its peak RSS is measured."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_ENV)}
    full_env.update(env or {})
    cmd = [*POLLER, *(["--config", str(config)] if config else []), *args]
    out_dir = logs or Path(tempfile.gettempdir())
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.monotonic_ns()}"
    out_path, err_path = out_dir / f"stdout-{stamp}.log", out_dir / f"stderr-{stamp}.log"
    rss_path = out_dir / f"rss-{stamp}.txt"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(rss_path), *cmd],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=full_env,
            start_new_session=True,  # its own process group: a timeout ends both processes
        )
        try:
            proc.communicate((stdin or "").encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"poller {' '.join(args)} did not finish within {timeout}s")
    rss_kib = rss_path.read_text()
    rss_path.unlink()
    return Run(
        args=tuple(args),
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        max_rss_mb=int(rss_kib) / 1024,  # Linux reports KiB
        seconds=time.monotonic() - started,
    )


def credential_strings(sb: Sandbox) -> dict[str, str]:
    """The sandbox's credentials in every form the issue names."""
    decoded = base64.b64decode(sb.hibob_token).decode()
    user, _, token = decoded.partition(":")
    assert user and token, "the sandbox token is base64 of user:token"
    return {
        "pinpoint api key": sb.pinpoint_api_key,
        "hibob base64 token": sb.hibob_token,
        "hibob decoded user:token": decoded,
        "hibob token part": token,
    }


class CVLinks:
    """Wraps the Pinpoint simulator's application rendering (test-side only).

    Records every attachment URL the simulator issues, so a test knows each signed query
    string it must never find again, and can swap one application's CV links for a crafted
    URL (the simulator has no setting for that; see the report).
    """

    def __init__(self, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        self.issued: list[str] = []
        self.overrides: dict[str, str] = {}
        self._lock = threading.Lock()
        render = sb.pinpoint._render

        def recording(app: Any, paths: set[str], attachments: bool) -> dict[str, Any]:
            resource = render(app, paths, attachments)
            for item in resource["attributes"].get("attachments", []):
                with self._lock:
                    if app.id in self.overrides:
                        item["url"] = self.overrides[app.id]
                    self.issued.append(item["url"])
            return resource

        monkeypatch.setattr(sb.pinpoint, "_render", recording)

    def secret_parts(self) -> dict[str, str]:
        """Each issued link's query string, each signature value, and each file token."""
        parts: dict[str, str] = {}
        with self._lock:
            urls = list(self.issued)
        for url in urls:
            split = urlsplit(url)
            if split.query:
                parts[f"query of {split.hostname}{split.path[:20]}…"] = split.query
                for name, value in parse_qsl(split.query):
                    if "signature" in name.lower() or name.lower() == "sig":
                        parts[f"signature {value[:6]}…"] = value
            segments = split.path.split("/")
            if len(segments) > 2 and segments[1] == "files":
                parts[f"file token {segments[2][:6]}…"] = segments[2]
        return parts


def scan(places: dict[str, bytes], needles: dict[str, str]) -> list[str]:
    """Every (needle, place) where a needle occurs in a place's raw bytes, as text or as
    UTF-16 (how some stores keep text)."""
    hits = []
    for label, secret in needles.items():
        forms = {secret.encode(), secret.encode("utf-16-le")}
        for place, data in places.items():
            if any(form in data for form in forms):
                hits.append(f"{label} found in {place}")
    return hits


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (logs, config, the SQLite file and its -wal/-shm)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


# -- a hostile "storage host" ---------------------------------------------------------------

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class StorageHost:
    """A loopback HTTP server standing in for a CV storage host; records request headers."""

    origin: str
    routes: dict[str, Handler]
    seen_headers: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"


@contextmanager
def storage_host(routes: dict[str, Handler]) -> Iterator[StorageHost]:
    host: StorageHost | None = None

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            assert host is not None
            host.seen_headers.append({k.lower(): v for k, v in self.headers.items()})
            handler = host.routes.get(self.path.split("?", 1)[0])
            if handler is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            handler(self)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    class _Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            """A client that hangs up on a too-large body is the point of some routes."""

    server = _Server(("127.0.0.1", 0), _Handler)
    host = StorageHost(f"http://127.0.0.1:{server.server_address[1]}", routes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def answer(status: int, body: bytes, headers: dict[str, str]) -> Handler:
    def handle(req: BaseHTTPRequestHandler) -> None:
        req.send_response(status)
        for name, value in headers.items():
            req.send_header(name, value)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return handle


def redirect(location: str) -> Handler:
    return answer(302, b"", {"Location": location})


def chunked(total_bytes: int, content_type: str, first: bytes = b"") -> Handler:
    """A body of ``total_bytes`` sent chunked, with no Content-Length to trust."""

    def handle(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        sent, block = 0, first + b"x" * (64 * 1024 - len(first))
        try:
            while sent < total_bytes:
                req.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                sent += len(block)
                block = b"x" * len(block)
            req.wfile.write(b"0\r\n\r\n")
        except OSError:
            req.close_connection = True  # the client stopped reading, as it should

    return handle


def spool_fds() -> set[str]:
    """This process's open descriptors on unnamed files in the temp directory (a
    TemporaryFile shows as "/tmp/#123 (deleted)" or "/tmp/tmpab12 (deleted)")."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc")
    tmp = os.path.realpath(tempfile.gettempdir()) + os.sep
    found = set()
    for entry in fd_dir.iterdir():
        try:
            target = os.readlink(entry)
        except OSError:  # e.g. the descriptor that listed the directory, closed since
            continue
        if target.startswith(tmp) and target.endswith("(deleted)"):
            found.add(f"{entry.name} -> {target}")
    return found


def text_values(rows: Iterable[Iterable[object]]) -> bytes:
    """All text cells of some rows, newline-joined, for scanning a database dump."""
    return "\n".join(str(v) for row in rows for v in row if isinstance(v, str)).encode()
