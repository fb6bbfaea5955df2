"""Test hook: SIGKILL this process at a named point of the flow.

Set ``POLLER_CRASH_AT=after:create`` (or ``after:create@3`` for the third time that point is
reached) and the process dies there, exactly as a node failure or OOM kill would. The crash
tests use it to prove that every step is safe to repeat. Unset, it costs one env lookup.
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_hits: dict[str, int] = {}


def crashpoint(name: str) -> None:
    spec = os.environ.get("POLLER_CRASH_AT")
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] == int(nth or "1"):
            os.kill(os.getpid(), signal.SIGKILL)
