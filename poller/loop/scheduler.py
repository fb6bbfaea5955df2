"""Running cycles: once (CronJob) or on an APScheduler interval (Deployment).

Signals only set a flag (rq's habit): the worker pool finishes the application in hand,
claims nothing new, and the process exits 0.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime
from types import FrameType

import structlog

from poller.cycle import Cycle, CycleResult
from poller.services import Services

log = structlog.get_logger("poller.scheduler")


def _install_signal_handlers(stop: threading.Event, on_stop: object = None) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("shutdown.requested", signal=signal.Signals(signum).name)
        stop.set()
        if callable(on_stop):
            on_stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _print_summary(result: CycleResult) -> None:
    # One JSON line on stdout for CronJob logs and wrappers; the logs go to stderr.
    sys.stdout.write(json.dumps(result.summary(), default=str) + "\n")
    sys.stdout.flush()


def run_once(svc: Services, *, backfill_since: datetime | None = None) -> int:
    stop = threading.Event()
    _install_signal_handlers(stop)
    result = Cycle(svc, stop).run(backfill_since=backfill_since)
    _print_summary(result)
    return 0 if result.ok else 1


def run_forever(svc: Services) -> int:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from poller.loop.health import Health, start_server

    settings = svc.settings
    stop = threading.Event()
    cycle = Cycle(svc, stop)
    health = Health(settings.schedule.interval_seconds, settings.schedule.health_stale_intervals)
    server = (
        start_server(settings.server.host, settings.server.port, health)
        if settings.server.port
        else None
    )
    scheduler = BlockingScheduler(timezone="UTC")

    def tick() -> None:
        if stop.is_set():
            return
        result = cycle.run()
        health.cycle_finished(result.ok)
        _print_summary(result)

    scheduler.add_job(
        tick,
        "interval",
        seconds=settings.schedule.interval_seconds,
        next_run_time=datetime.now().astimezone(),  # one cycle at start-up
        max_instances=1,
        coalesce=True,
        misfire_grace_time=settings.schedule.misfire_grace_seconds,
        id="poll",
    )

    def shutdown() -> None:
        # From a signal handler: don't wait here; the blocking start() returns once the
        # running cycle has finished its current applications.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    _install_signal_handlers(stop, shutdown)
    health.scheduler_started()
    log.info("scheduler.started", interval_s=settings.schedule.interval_seconds)
    try:
        scheduler.start()
    finally:
        health.scheduler_stopped()
        if server is not None:
            server.stop()
        log.info("scheduler.stopped")
    return 0
