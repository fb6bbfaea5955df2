"""The CPU floor of one HTTP call through the stack the poller uses, on this machine.

    python -m bench.http_floor             # 2,000 calls without delay, 200 with 50 ms

A trivial JSON server runs in a child process (its CPU isn't counted), and this process
times, with time.process_time(), the same GET made four ways: urllib3 alone, a
requests.Session, the poller's HttpClient at WARNING and at INFO (JSON lines to /dev/null).
With a delay the server sleeps before answering, as a real API does, and the client's
caches go cold in between: on the 2-core bench VM that doubles the CPU of each call.
A fresh hire makes four calls, so four times the HttpClient figure is the part of the
"CPU per hire" target that the HTTP stack takes before any of the poller's own work.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = json.dumps({"data": {"id": "8863902", "type": "applications", "attributes": {}}}).encode()


def _serve(port_out: multiprocessing.Queue[int], delay_s: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(delay_s)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def _cpu_us(call: Callable[[], object], n: int) -> float:
    call()  # connect and warm up outside the measurement
    started = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - started) / n * 1e6


def measure(delay_ms: int, n: int) -> dict[str, float]:
    import requests
    import urllib3

    from poller import logs
    from poller.upstream.http import HttpClient
    from poller.upstream.transport import make_session

    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports, delay_ms / 1000), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=10)}"
        pool = urllib3.PoolManager()
        session = requests.Session()
        client = HttpClient(
            "pinpoint", base, headers={"X-API-KEY": "k" * 24}, session=make_session()
        )
        out = {
            "urllib3": _cpu_us(lambda: pool.request("GET", f"{base}/x").data, n),
            "requests.Session": _cpu_us(lambda: session.get(f"{base}/x", timeout=10).json(), n),
        }
        for level in ("WARNING", "INFO"):
            logs.configure_logging(level, "json", stream=io.StringIO())
            out[f"HttpClient ({level})"] = _cpu_us(
                lambda: client.request("GET", "/x", endpoint="GET /x").json(), n
            )
        return out
    finally:
        server.terminate()
        server.join(5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.http_floor", description=__doc__.split("\n")[0]
    )
    p.add_argument("--calls", type=int, default=2000, help="calls without delay (default 2000)")
    p.add_argument("--delayed-calls", type=int, default=200, help="calls with delay (default 200)")
    p.add_argument("--delay-ms", type=int, default=50)
    args = p.parse_args(argv)
    results = {
        0: measure(0, args.calls),
        args.delay_ms: measure(args.delay_ms, args.delayed_calls),
    }
    print(f"{'CPU per call (us)':<24}" + "".join(f"{f'{d} ms delay':>14}" for d in results))
    for name in results[0]:
        print(f"{name:<24}" + "".join(f"{r[name]:>14.0f}" for r in results.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
