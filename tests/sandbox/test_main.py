"""`python -m poller.sandbox`: one JSON line first, then serves until SIGINT/SIGTERM, exit 0."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time

import pytest
import requests


def first_line(process: subprocess.Popen[str], timeout: float = 15) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not selector.select(timeout=0.1):
            assert process.poll() is None, "the sandbox exited early"
            assert time.monotonic() < deadline, "no output from the sandbox"
    return process.stdout.readline()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_module_prints_json_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "poller.sandbox", "--seed", "4", "--hires", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(first_line(process))
        assert info["pinpoint_url"].startswith("http://127.0.0.1:")
        assert info["hibob_url"].endswith("/v1")
        jobs = requests.get(
            f"{info['pinpoint_url']}/jobs",
            headers={"X-API-KEY": info["pinpoint_api_key"]},
            timeout=5,
        )
        assert jobs.status_code == 200
        lists = requests.get(
            f"{info['hibob_url']}/company/named-lists/site",
            headers={"Authorization": f"Basic {info['hibob_token']}"},
            timeout=5,
        )
        assert lists.status_code == 200
        assert requests.get(f"{info['hibob_control']}/audit", timeout=5).status_code == 200
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
