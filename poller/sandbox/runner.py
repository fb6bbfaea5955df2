"""Both simulators together: in-process (`Sandbox`) or in the foreground (`serve_forever`)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime
from types import FrameType, TracebackType
from typing import Any, TextIO

from .audit import Audit, AuditSnapshot
from .clock import SimClock
from .hibob import HibobSim
from .pinpoint import PinpointSim
from .server import SimServer
from .world import seed_world


class Sandbox:
    """A Pinpoint and a HiBob simulator on loopback ports, seeded from one seed.

    Port 0 picks a free port. URLs are known after start(). Both simulators share one clock
    (`sb.clock`, which tests may `advance()`) and one audit.
    """

    def __init__(
        self,
        seed: int = 1,
        hires: int = 12,
        pinpoint_port: int = 0,
        hibob_port: int = 0,
        now: datetime | None = None,
        *,
        lag_seconds: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.seed = seed
        self.host = host
        self.clock = SimClock(now)
        self.audit_log = Audit()
        self.pinpoint = PinpointSim(seed, self.clock, self.audit_log)
        self.hibob = HibobSim(seed, self.clock, self.audit_log)
        self.hibob.set_lag(lag_seconds)
        seed_world(self.pinpoint, self.hibob, hires)
        self._ports = (pinpoint_port, hibob_port)
        self._servers: tuple[SimServer, SimServer] | None = None

    def __repr__(self) -> str:
        return f"Sandbox(seed={self.seed}, running={self._servers is not None})"

    def start(self) -> Sandbox:
        if self._servers is not None:
            raise RuntimeError("the sandbox is already running")
        pinpoint = SimServer(self.pinpoint, self.host, self._ports[0])
        try:
            hibob = SimServer(self.hibob, self.host, self._ports[1])
        except OSError:
            pinpoint.stop()
            raise
        pinpoint.start()
        hibob.start()
        self._servers = (pinpoint, hibob)
        return self

    def stop(self) -> None:
        if self._servers is not None:
            for server in self._servers:
                server.stop()
            self._servers = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> tuple[SimServer, SimServer]:
        if self._servers is None:
            raise RuntimeError("start() the sandbox first")
        return self._servers

    @property
    def pinpoint_origin(self) -> str:
        return self._running()[0].origin

    @property
    def hibob_origin(self) -> str:
        return self._running()[1].origin

    @property
    def pinpoint_url(self) -> str:
        return self.pinpoint_origin + self.pinpoint.base_path

    @property
    def hibob_url(self) -> str:
        return self.hibob_origin + self.hibob.base_path

    @property
    def pinpoint_api_key(self) -> str:
        return self.pinpoint.api_key

    @property
    def hibob_token(self) -> str:
        """base64("serviceuser:token"), as HIBOB_BASE64_TOKEN holds it."""
        return self.hibob.token

    @property
    def hibob_noperm_token(self) -> str:
        """A valid service user without permissions: 403 everywhere but the fields metadata."""
        return self.hibob.noperm_token

    def faults(self, api: str, endpoint: str = "*", **knobs: Any) -> None:
        """Set the fault rule of one endpoint ("POST /people", "GET /applications/{id}", "*").

        See poller.sandbox.faults for the knobs. Same as sb.pinpoint.faults.set(endpoint, ...).
        """
        self._sim(api).faults.set(endpoint, **knobs)

    def reset_faults(self) -> None:
        self.pinpoint.faults.clear()
        self.hibob.faults.clear()

    def audit(self) -> AuditSnapshot:
        return self.audit_log.snapshot()

    def hired_application_ids(self) -> list[str]:
        return self.pinpoint.hired_application_ids()

    def credentials(self) -> dict[str, Any]:
        """URLs and credentials, as serve_forever prints them."""
        return {
            "pinpoint_url": self.pinpoint_url,
            "hibob_url": self.hibob_url,
            "pinpoint_api_key": self.pinpoint_api_key,
            "hibob_token": self.hibob_token,
            "hibob_noperm_token": self.hibob_noperm_token,
            "pinpoint_control": self.pinpoint_origin + "/_sandbox",
            "hibob_control": self.hibob_origin + "/_sandbox",
            "seed": self.seed,
        }

    def _sim(self, api: str) -> PinpointSim | HibobSim:
        if api == "pinpoint":
            return self.pinpoint
        if api == "hibob":
            return self.hibob
        raise ValueError("api is 'pinpoint' or 'hibob'")


def _text_banner(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Pinpoint simulator: {info['pinpoint_url']}   (control: {info['pinpoint_control']})",
            f"HiBob simulator:    {info['hibob_url']}   (control: {info['hibob_control']})",
            "",
            f"export POLLER_PINPOINT__BASE_URL={info['pinpoint_url']}",
            f"export POLLER_HIBOB__BASE_URL={info['hibob_url']}",
            f"export PINPOINT_API_KEY={info['pinpoint_api_key']}",
            f"export HIBOB_BASE64_TOKEN={info['hibob_token']}",
            "",
            "Serving until Ctrl-C.",
        ]
    )


def serve_forever(
    pinpoint_port: int = 0,
    hibob_port: int = 0,
    seed: int = 1,
    hires: int = 12,
    *,
    lag_seconds: float = 0.0,
    output: str = "text",
    stream: TextIO | None = None,
) -> None:
    """Serve both simulators until SIGINT/SIGTERM (or Ctrl-C), then stop them and return.

    Prints the URLs and credentials first: a readable banner (output="text"), or one JSON line
    (output="json") for a parent process to read. Returning normally lets callers exit 0.
    """
    out = stream or sys.stdout
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    sandbox: Sandbox | None = None
    try:
        sandbox = Sandbox(seed, hires, pinpoint_port, hibob_port, lag_seconds=lag_seconds).start()
        info = sandbox.credentials()
        out.write((json.dumps(info) if output == "json" else _text_banner(info)) + "\n")
        out.flush()
        while not stop.wait(0.2):  # a timed wait keeps the main thread responsive to signals
            pass
    except KeyboardInterrupt:
        pass  # Ctrl-C outside the main thread's handler: stop all the same
    finally:
        if sandbox is not None:
            sandbox.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
