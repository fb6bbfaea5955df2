"""Test hook: SIGKILL this process at a named point of the flow.

Set ``POLLER_CRASH_AT=after:create`` (or ``after:create@3`` for the third time that point is
reached) and the process dies there, exactly as a node failure or OOM kill would. The crash
tests use it to prove that every step is safe to repeat. The variable is read once, when the
module is imported (the tests set it in the environment of the process they start); unset,
a crash point costs one comparison.
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_hits: dict[str, int] = {}
_SPEC = os.environ.get("POLLER_CRASH_AT") or ""


def crashpoint(name: str) -> None:
    if not _SPEC:
        return
    target, _, nth = _SPEC.partition("@")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] == int(nth or "1"):
            os.kill(os.getpid(), signal.SIGKILL)
