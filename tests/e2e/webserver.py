"""`poller web` as deployments run it: a real process on a free loopback port."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from poller.sandbox import Sandbox
from tests.support.config import POLLER, clean_env

HOSTILE_FIRST, HOSTILE_LAST = "<script>alert(1)</script>", "Tester"
HOSTILE_NAME = f"{HOSTILE_FIRST} {HOSTILE_LAST}"


def add_hostile_hire(sb: Sandbox) -> str:
    """A hire whose first name is markup; the page must show it as text."""
    return sb.pinpoint.add_hire(HOSTILE_FIRST, HOSTILE_LAST, "xss.tester@example.com", cv="pdf")


@dataclass
class WebProcess:
    url: str  # http://127.0.0.1:PORT, no trailing slash
    proc: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


@contextmanager
def web_server(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[WebProcess]:
    """Start `poller --config CONFIG web --port 0 ARGS`, wait for its URL, stop it with
    SIGTERM afterwards (and check that it exits 0)."""
    cmd = [*POLLER, "--config", str(config), "web", "--port", "0", *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(env)
    )
    lines: queue.Queue[str] = queue.Queue()
    stderr_lines: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout, proc.stderr
    readers = [
        threading.Thread(target=lambda: [lines.put(x) for x in out], daemon=True),
        threading.Thread(target=lambda: [stderr_lines.append(x) for x in err], daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        try:
            first = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"poller web did not start: {''.join(stderr_lines)}") from None
        assert first.startswith("status page: http://"), first + "".join(stderr_lines)
        url = first.split()[2].rstrip("/")
        yield WebProcess(url=url, proc=proc, stderr_lines=stderr_lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        for reader in readers:
            reader.join(timeout=5)
        out.close()
        err.close()
    assert code == 0, f"poller web exited {code}: {''.join(stderr_lines)}"
