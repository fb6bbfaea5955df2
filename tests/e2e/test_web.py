"""What the status page shows of the last cycle, as recorded by real cycles on the simulators."""

from __future__ import annotations

from pathlib import Path

from poller.report import status_data, status_report
from poller.sandbox import Sandbox
from tests.e2e.harness import make_poller


def test_each_cycle_records_its_end_and_outcome(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=5, hires=3) as sb:
        poller = make_poller(tmp_path, sb, db_url)
        try:
            assert status_data(poller.ledger)["last_cycle_at"] is None
            assert "Last cycle:           none recorded" in status_report(poller.ledger, "text")
            assert poller.run().ok
            ok = status_data(poller.ledger)
            assert ok["last_cycle_outcome"] == "ok" and ok["last_cycle_error"] is None
            assert ok["last_cycle_at"] >= ok["last_successful_poll"]

            sb.faults("pinpoint", "GET /applications", error_rate="always", error_status=401)
            failed = poller.run()
            assert not failed.ok and failed.error
            bad = status_data(poller.ledger)
            assert bad["last_cycle_outcome"] == "error" and "401" in bad["last_cycle_error"]
            assert bad["last_cycle_at"] > ok["last_cycle_at"]
            assert bad["last_successful_poll"] == ok["last_successful_poll"]
            assert f"{bad['last_cycle_at']} error: " in status_report(poller.ledger, "text")
        finally:
            poller.close()


def test_a_store_that_fails_the_record_does_not_fail_the_cycle(
    tmp_path: Path, sqlite_url: str
) -> None:
    with Sandbox(seed=5, hires=2) as sb:
        poller = make_poller(tmp_path, sb, sqlite_url)
        real_set_state = poller.ledger.set_state

        def refuse_the_record(values: dict[str, str], **kw: object) -> None:
            if "last_cycle_at" in values:
                from poller.errors import StoreError

                raise StoreError("database error during set_state: disk I/O error")
            real_set_state(values, **kw)  # type: ignore[arg-type]

        poller.ledger.set_state = refuse_the_record  # type: ignore[method-assign]
        try:
            result = poller.run()
            assert result.ok and result.outcomes.get("done")
            assert status_data(poller.ledger)["last_cycle_at"] is None
        finally:
            poller.close()


def test_poller_web_exits_1_when_its_port_is_taken_or_the_schema_is_old(tmp_path: Path) -> None:
    import subprocess

    from tests.e2e.webserver import web_server
    from tests.support.config import POLLER, clean_env

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/p.db"\n')
    cmd = [*POLLER, "--config", str(config), "web"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cmd, *args], capture_output=True, text=True, env=clean_env(), timeout=60, check=False
        )

    old = run()
    assert old.returncode == 1 and "poller db upgrade" in old.stderr
    subprocess.run(
        [*POLLER, "--config", str(config), "db", "upgrade"],
        check=True,
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    with web_server(config) as web:
        port = web.url.rsplit(":", 1)[1]
        taken = run("--port", port)
    assert taken.returncode == 1
    assert f"can't listen on 127.0.0.1:{port}" in taken.stderr and "Traceback" not in taken.stderr
