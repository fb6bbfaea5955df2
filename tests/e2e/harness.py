"""Build a real poller (config file, ledger, clients) against running simulators."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poller.config import Settings, load_settings
from poller.cycle import Cycle, CycleResult
from poller.loop.wiring import build_ledger, build_services
from poller.sandbox import Sandbox
from poller.sandbox.data import MAPPING
from poller.services import Services
from poller.store.ledger import Ledger
from tests.support.config import merged, secrets_env, toml_dumps

# Fast but faithful: real HTTP, real retries, waits shortened.
TEST_CONFIG: dict[str, dict[str, Any]] = {
    "pinpoint": {"requests_per_second": 1000},
    "hibob": {
        "create_per_minute": 0,
        "search_per_minute": 0,
        "lookup_wait_seconds": 8,
        "lookup_interval_seconds": 0.25,
    },
    "http": {
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 2,
        "max_retries": 3,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
    },
    "worker": {"concurrency": 4, "lease_seconds": 60, "max_attempts": 5, "retry_base_seconds": 0},
    "discovery": {"backfill_since": "1970-01-01T00:00:00Z"},
    "mapping": dict(MAPPING),
    "server": {"port": 0},
    "logging": {"level": "WARNING", "format": "json"},
}


def write_config(
    path: Path, sb: Sandbox, db_url: str, extra: dict[str, dict[str, Any]] | None = None
) -> Path:
    config = merged(TEST_CONFIG, extra or {})
    config = merged(
        config,
        {
            "pinpoint": {"base_url": sb.pinpoint_url},
            "hibob": {"base_url": sb.hibob_url},
            "database": {"url": db_url},
        },
    )
    path.write_text(toml_dumps(config))
    return path


@dataclass
class Poller:
    """An in-process poller wired like `poller run --once` wires it."""

    settings: Settings
    ledger: Ledger
    svc: Services
    cycle: Cycle

    def run(self, **kw: Any) -> CycleResult:
        return self.cycle.run(**kw)

    def settle(self, max_cycles: int = 8) -> list[CycleResult]:
        """Run cycles until no row is pending or in progress."""
        results = []
        for _ in range(max_cycles):
            results.append(self.run())
            counts = self.ledger.counts()
            if counts["pending"] == counts["in_progress"] == 0:  # settling rows wait their time
                break
        return results

    def close(self) -> None:
        self.ledger.dispose()


def make_poller(
    tmp_path: Path, sb: Sandbox, db_url: str, extra: dict[str, dict[str, Any]] | None = None
) -> Poller:
    path = write_config(tmp_path / "config.toml", sb, db_url, extra)
    settings = load_settings(str(path), env=secrets_env(sb))
    ledger = build_ledger(settings)
    ledger.migrate()
    svc = build_services(settings, ledger)
    return Poller(settings, ledger, svc, Cycle(svc))
