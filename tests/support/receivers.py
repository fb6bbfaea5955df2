"""Real notification receivers on loopback, for Apprise's json:// and mailto:// targets: an
HTTP server that records what it is sent (and can be made to answer 503), and an SMTP server
(aiosmtpd) that keeps every message."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class JsonReceiver:
    """Apprise's json:// posts {"version", "title", "message", "type"} to the URL."""

    port: int
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)  # the ones it took
    refused: int = 0

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def texts(self) -> list[str]:
        return [f"{m.get('title', '')}\n{m.get('message', '')}" for m in self.received]


@contextmanager
def json_receiver() -> Iterator[JsonReceiver]:
    receiver: JsonReceiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert receiver is not None
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if receiver.status == 200:
                receiver.received.append(json.loads(body))
            else:
                receiver.refused += 1
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = JsonReceiver(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class SmtpReceiver:
    port: int
    messages: list[Message] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=poller@example.com&to=hr@example.com"

    def texts(self) -> list[str]:
        out = []
        for m in self.messages:
            payload = m.get_payload(decode=True) if not m.is_multipart() else b""
            text = payload.decode() if isinstance(payload, bytes) else ""
            if m.is_multipart():
                for part in m.walk():
                    data = part.get_payload(decode=True)
                    if isinstance(data, bytes):
                        text += data.decode(errors="replace")
            out.append(f"{m['Subject']}\n{text}")
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver(_free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
