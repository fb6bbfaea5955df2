"""The four measurements of issue 7. Each starts its own simulators and database, and returns
plain dicts (medians plus every run) for the table and bench/results/latest.json."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.pollerproc import POLLER, Databases, PollerSetup, run_measured
from bench.simproc import SimProcess
from tests.support.config import clean_env

# Every hire's CV is fetched by HiBob itself in cv.mode = "url" (documentUrl): that request
# reaches the Pinpoint simulator, but the poller never makes it, so it is counted apart.
HIBOB_CV_FETCH = "pinpoint GET /files/{token}/{filename}"
BACKFILL_ALL = {"discovery": {"backfill_since": "1970-01-01T00:00:00Z"}}
# Bounds for one `poller run --once`: generous, so a slow machine still finishes, but finite.
RUN_TIMEOUT_BASE_S = 120.0
RUN_TIMEOUT_PER_HIRE_S = 1.0


@dataclass(frozen=True)
class Options:
    latency_ms: int
    repeat: int
    backlog_hires: int
    baseline_hires: int
    concurrency: int
    rate_hires: int
    rate_limit: int
    rate_pace: int
    rate_repeat: int
    quiet_sizes: tuple[int, ...]
    process_hires: int
    process_latency_ms: int
    process_log_level: str
    process_repeat: int
    cold_repeat: int
    watch_hires: int = 1000
    watch_changes: int = 10


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _timeout(hires: int, per_hire: float = RUN_TIMEOUT_PER_HIRE_S) -> float:
    return RUN_TIMEOUT_BASE_S + hires * per_hire


def _check_exactly_once(audit: dict[str, Any], hires: int) -> dict[str, int]:
    """The bench measures a correct run or none: one employee, CV and comment per hire."""
    created = audit["employees_created_per_email"]
    comments = audit["comments_per_application"]
    documents = audit["documents_per_employee"]
    counts = {
        "employees": len(created),
        "comments": len(comments),
        "documents": len(documents),
        "duplicates": sum(n - 1 for d in (created, comments, documents) for n in d.values()),
    }
    if counts["duplicates"] or min(counts["employees"], counts["comments"]) < hires:
        raise RuntimeError(f"the run was not exactly-once for {hires} hires: {counts}")
    return counts


def _sim(seed: int, latency_ms: int, *, hires: int = 0) -> SimProcess:
    sim = SimProcess(seed=seed, hires=hires)
    try:
        sim.set_latency(latency_ms)
        # "No rate limits": the HiBob simulator limits search to 50/min unless told otherwise.
        sim.set_rate_limits("hibob", {"POST /people/search": 0})
    except BaseException:
        sim.stop()
        raise
    return sim


def backlog_run(
    dbs: Databases, workdir: Path, *, hires: int, concurrency: int, latency_ms: int, seed: int
) -> dict[str, Any]:
    """`hires` fresh hires with CVs, one `poller run --once` at `concurrency`."""
    with _sim(seed, latency_ms) as sim:
        sim.add_fresh_hires(hires)
        sim.reset_audit()
        setup = PollerSetup(sim, dbs.fresh(f"backlog{concurrency}"), workdir, BACKFILL_ALL)
        proc, summary = setup.run_once(
            timeout=_timeout(hires),
            overrides={"POLLER_WORKER__CONCURRENCY": str(concurrency)},
        )
        audit = sim.audit()
    by_endpoint: dict[str, int] = audit["requests_by_endpoint"]
    total = int(audit["requests"]["total"])
    poller_made = total - by_endpoint.get(HIBOB_CV_FETCH, 0)
    cycle_s = float(summary["duration_s"])
    return {
        "hires": hires,
        "concurrency": concurrency,
        "outcomes": summary["outcomes"],
        "exactly_once": _check_exactly_once(audit, hires),
        "cycle_s": cycle_s,
        "process_wall_s": round(proc.wall_s, 3),
        "seconds_per_hire": cycle_s / hires,
        "requests_total": total,
        "requests_by_poller": poller_made,
        "requests_per_hire": poller_made / hires,
        "requests_per_hire_incl_hibob_cv_fetch": total / hires,
        "statuses": audit["statuses"],
        "requests_by_endpoint": by_endpoint,
        "cpu_s": round(proc.cpu_s, 3),
        "maxrss_mb": round(proc.maxrss_kb / 1024, 1),
    }


def backlog(dbs: Databases, workdir: Path, opts: Options) -> dict[str, Any]:
    runs, baselines = [], []
    for rep in range(opts.repeat):
        runs.append(
            backlog_run(
                dbs,
                workdir,
                hires=opts.backlog_hires,
                concurrency=opts.concurrency,
                latency_ms=opts.latency_ms,
                seed=100 + rep,
            )
        )
        baselines.append(
            backlog_run(
                dbs,
                workdir,
                hires=opts.baseline_hires,
                concurrency=1,
                latency_ms=opts.latency_ms,
                seed=200 + rep,
            )
        )
    per_hire = median([r["seconds_per_hire"] for r in runs])
    base_per_hire = median([r["seconds_per_hire"] for r in baselines])
    return {
        "hires": opts.backlog_hires,
        "concurrency": opts.concurrency,
        "baseline_hires": opts.baseline_hires,
        "latency_ms": opts.latency_ms,
        "wall_s": median([r["cycle_s"] for r in runs]),
        "hires_per_s": 1 / per_hire,
        "requests_per_hire": median([r["requests_per_hire"] for r in runs]),
        "requests_per_hire_incl_hibob_cv_fetch": median(
            [r["requests_per_hire_incl_hibob_cv_fetch"] for r in runs]
        ),
        "baseline_seconds_per_hire": base_per_hire,
        "baseline_wall_s_scaled": base_per_hire * opts.backlog_hires,
        "speedup": base_per_hire / per_hire,
        "runs": runs,
        "baseline_runs": baselines,
    }


def _creates(log: list[dict[str, Any]]) -> list[datetime]:
    return sorted(
        datetime.fromisoformat(e["time"])
        for e in log
        if e["api"] == "hibob"
        and e["method"] == "POST"
        and e["route"] == "/people"
        and e["status"] in (200, 201)
    )


def rate_limited_run(dbs: Databases, workdir: Path, opts: Options, *, seed: int) -> dict[str, Any]:
    hires = opts.rate_hires
    with _sim(seed, opts.latency_ms) as sim:
        sim.set_rate_limits("hibob", {"POST /people": opts.rate_limit})
        sim.add_fresh_hires(hires)
        sim.reset_audit()
        extra = BACKFILL_ALL | {"hibob": {"create_per_minute": opts.rate_pace}}
        setup = PollerSetup(sim, dbs.fresh("rate"), workdir, extra)
        expected_s = hires / opts.rate_pace * 60
        proc, summary = setup.run_once(timeout=RUN_TIMEOUT_BASE_S + 2 * expected_s)
        audit = sim.audit(log_limit=hires * 10)
    created = _creates(audit["log"])
    span = (created[-1] - created[0]).total_seconds() if len(created) > 1 else 0.0
    # Steady rate: n creates make n-1 intervals; it doesn't credit the first, instant one.
    per_minute = (len(created) - 1) / span * 60 if span > 0 else float("nan")
    cycle_s = float(summary["duration_s"])
    return {
        "hires": hires,
        "outcomes": summary["outcomes"],
        "exactly_once": _check_exactly_once(audit, hires),
        "creates": len(created),
        "creates_span_s": round(span, 3),
        "creates_per_minute": per_minute,
        "fraction_of_limit": per_minute / opts.rate_limit,
        "creates_per_minute_whole_cycle": len(created) / cycle_s * 60,
        "status_429": int(audit["statuses"].get("429", 0)),
        "cycle_s": cycle_s,
        "process_wall_s": round(proc.wall_s, 3),
        "statuses": audit["statuses"],
    }


def rate_limited(dbs: Databases, workdir: Path, opts: Options) -> dict[str, Any]:
    runs = [rate_limited_run(dbs, workdir, opts, seed=300 + i) for i in range(opts.rate_repeat)]
    return {
        "hires": opts.rate_hires,
        "limit_per_minute": opts.rate_limit,
        "pace_per_minute": opts.rate_pace,
        "latency_ms": opts.latency_ms,
        "creates_per_minute": median([r["creates_per_minute"] for r in runs]),
        "fraction_of_limit": median([r["fraction_of_limit"] for r in runs]),
        "status_429": max(r["status_429"] for r in runs),
        "wall_s": median([r["cycle_s"] for r in runs]),
        "runs": runs,
    }


def _mark_processed(db_url: str, *, full_listing_age: timedelta | None = None) -> int:
    """Turn the first cycle's baseline rows into done ones, as if each had been synced."""
    from sqlalchemy import create_engine, text

    from poller.db_url import normalise_url

    engine = create_engine(normalise_url(db_url))
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            n = conn.execute(
                text(
                    "UPDATE processed_applications SET state = 'done', attempts = 1, "
                    "hibob_employee_id = 'bench-' || application_id, employee_link = 'created', "
                    "cv_status = 'uploaded', pinpoint_comment_id = 'bench', completed_at = :now "
                    "WHERE state = 'baseline'"
                ),
                {"now": now},
            ).rowcount
            if full_listing_age is not None:
                conn.execute(
                    text("UPDATE poller_state SET value = :v WHERE key = 'last_full_listing_at'"),
                    {"v": (now - full_listing_age).isoformat()},
                )
    finally:
        engine.dispose()
    return int(n)


def quiet_size(dbs: Databases, workdir: Path, opts: Options, size: int) -> dict[str, Any]:
    with _sim(400 + size, opts.latency_ms) as sim:
        sim.add_old_hires(size, age=timedelta(days=2))
        db_url = dbs.fresh(f"quiet{size}")
        setup = PollerSetup(sim, db_url, workdir)  # no backfill: the first cycle baselines all
        sim.reset_audit()
        first_proc, first = setup.run_once(timeout=_timeout(size, 0.05))
        first_requests = int(sim.audit()["requests"]["total"])
        if first["discovery"]["new_baseline"] != size:
            raise RuntimeError(f"expected {size} baseline rows, got {first['discovery']}")
        processed = _mark_processed(db_url)
        runs = []
        for _ in range(opts.repeat):
            sim.reset_audit()
            proc, summary = setup.run_once(timeout=RUN_TIMEOUT_BASE_S)
            audit = sim.audit()
            runs.append(
                {
                    "requests": int(audit["requests"]["total"]),
                    "requests_by_endpoint": audit["requests_by_endpoint"],
                    "cycle_s": float(summary["duration_s"]),
                    "process_wall_s": round(proc.wall_s, 3),
                    "cpu_s": round(proc.cpu_s, 3),
                    "maxrss_mb": round(proc.maxrss_kb / 1024, 1),
                    "discovery": summary["discovery"],
                }
            )
        # Once a day (discovery.full_reconcile_hours) the poll lists every hire on purpose.
        _mark_processed(db_url, full_listing_age=timedelta(days=2))
        sim.reset_audit()
        _, daily = setup.run_once(timeout=_timeout(size, 0.05))
        daily_requests = int(sim.audit()["requests"]["total"])
    return {
        "history_rows": processed,
        "first_cycle": {
            "requests": first_requests,
            "cycle_s": float(first["duration_s"]),
            "process_wall_s": round(first_proc.wall_s, 3),
        },
        "requests": median([r["requests"] for r in runs]),
        "requests_max": max(r["requests"] for r in runs),
        "cycle_s": median([r["cycle_s"] for r in runs]),
        "process_wall_s": median([r["process_wall_s"] for r in runs]),
        "cpu_s": median([r["cpu_s"] for r in runs]),
        "daily_reconciliation": {
            "requests": daily_requests,
            "cycle_s": float(daily["duration_s"]),
            "reason": daily["discovery"]["reason"],
        },
        "runs": runs,
    }


def quiet(dbs: Databases, workdir: Path, opts: Options) -> dict[str, Any]:
    return {
        "latency_ms": opts.latency_ms,
        "sizes": {str(size): quiet_size(dbs, workdir, opts, size) for size in opts.quiet_sizes},
    }


def process_run(dbs: Databases, workdir: Path, opts: Options, *, seed: int) -> dict[str, Any]:
    hires = opts.process_hires
    with _sim(seed, opts.process_latency_ms) as sim:
        sim.add_fresh_hires(hires)
        setup = PollerSetup(sim, dbs.fresh("process"), workdir, BACKFILL_ALL)
        overrides = {
            "POLLER_WORKER__CONCURRENCY": str(opts.concurrency),
            "POLLER_LOGGING__LEVEL": opts.process_log_level,
        }
        proc, summary = setup.run_once(timeout=_timeout(hires), overrides=overrides)
        _check_exactly_once(sim.audit(), hires)
        # The same process with nothing to do: start-up, migrations check, discovery.
        idle, _ = setup.run_once(timeout=RUN_TIMEOUT_BASE_S, overrides=overrides)
    return {
        "hires": hires,
        "outcomes": summary["outcomes"],
        "cycle_s": float(summary["duration_s"]),
        "cpu_s": round(proc.cpu_s, 3),
        "user_s": round(proc.user_s, 3),
        "sys_s": round(proc.sys_s, 3),
        "cpu_ms_per_hire": proc.cpu_s / hires * 1000,
        "idle_cpu_s": round(idle.cpu_s, 3),
        "cpu_ms_per_hire_net": (proc.cpu_s - idle.cpu_s) / hires * 1000,
        "maxrss_mb": round(proc.maxrss_kb / 1024, 1),
        "idle_maxrss_mb": round(idle.maxrss_kb / 1024, 1),
    }


def process_costs(dbs: Databases, workdir: Path, opts: Options) -> dict[str, Any]:
    runs = [process_run(dbs, workdir, opts, seed=500 + i) for i in range(opts.process_repeat)]
    return {
        "hires": opts.process_hires,
        "latency_ms": opts.process_latency_ms,
        "log_level": opts.process_log_level,
        "cpu_ms_per_hire": median([r["cpu_ms_per_hire"] for r in runs]),
        "cpu_ms_per_hire_net": median([r["cpu_ms_per_hire_net"] for r in runs]),
        "maxrss_mb": max(r["maxrss_mb"] for r in runs),
        "runs": runs,
    }


def _requests(sim: SimProcess, since: dict[str, Any] | None = None) -> dict[str, Any]:
    """Requests so far (the audit is cumulative), less those of ``since``."""
    audit = sim.audit()
    by_endpoint = dict(audit["requests_by_endpoint"])
    total = int(audit["requests"]["total"])
    if since is not None:
        total -= since["total"]
        by_endpoint = {
            k: n - since["by_endpoint"].get(k, 0)
            for k, n in by_endpoint.items()
            if n - since["by_endpoint"].get(k, 0)
        }
    return {"total": total, "by_endpoint": by_endpoint}


WRITES = ("hibob POST /employees/{id}/start-date", "hibob PUT /people/{id}")


def watch_run(dbs: Databases, workdir: Path, opts: Options, *, touch: bool) -> dict[str, Any]:
    """`watch_hires` processed hires, watched; then `watch_changes` moved start dates and as
    many corrected surnames. What a quiet poll, the next cycle and the daily full listing cost
    in requests, when Pinpoint moves updated_at on such edits (`touch`) and when it doesn't.
    The hires were last updated two days ago, so no listing's overlap window brings them."""
    hires, k = opts.watch_hires, opts.watch_changes
    with _sim(600 + touch, opts.latency_ms) as sim:
        sim.configure("pinpoint", {"edits_touch_updated_at": touch})
        ids = sim.add_old_hires(hires, age=timedelta(days=2))
        db_url = dbs.fresh("watch")
        extra = BACKFILL_ALL | {"hibob": {"update_per_minute": 0}}
        setup = PollerSetup(sim, db_url, workdir, extra)
        overrides = {"POLLER_WORKER__CONCURRENCY": str(opts.concurrency)}
        setup.run_once(timeout=_timeout(hires), overrides=overrides)  # processed: now watched
        _check_exactly_once(sim.audit(), hires)
        sim.reset_audit()
        _, quiet_summary = setup.run_once(timeout=RUN_TIMEOUT_BASE_S)
        quiet_cost = _requests(sim)
        later = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()
        for app_id in ids[:k]:
            sim.add_offer(app_id, later)
        for app_id in ids[k : 2 * k]:
            sim.edit_candidate(app_id, last_name="Corrected")
        sim.reset_audit()
        _, next_summary = setup.run_once(timeout=RUN_TIMEOUT_BASE_S)
        next_cost = _requests(sim)
        _mark_processed(db_url, full_listing_age=timedelta(days=2))  # the daily full listing
        _, full_summary = setup.run_once(timeout=_timeout(hires, 0.05))
        full_cost = _requests(sim, since=next_cost)
        audit = sim.audit()
    writes = sum(c["by_endpoint"].get(e, 0) for c in (next_cost, full_cost) for e in WRITES)
    return {
        "hires": hires,
        "changes": 2 * k,
        "edits_touch_updated_at": touch,
        "quiet": quiet_cost | {"watch": quiet_summary.get("watch")},
        "next_cycle": next_cost
        | {"watch": next_summary.get("watch"), "synced": next_summary.get("synced")},
        "daily_full_listing": full_cost
        | {"watch": full_summary.get("watch"), "synced": full_summary.get("synced")},
        "writes": writes,
        "writes_per_change": writes / (2 * k),
        "start_date_writes": sum(audit["start_date_writes_per_employee"].values()),
        "name_writes": sum(audit["name_writes_per_employee"].values()),
    }


def watch(dbs: Databases, workdir: Path, opts: Options) -> dict[str, Any]:
    return {
        "latency_ms": opts.latency_ms,
        "runs": {
            "updated_at moves": watch_run(dbs, workdir, opts, touch=True),
            "updated_at stays": watch_run(dbs, workdir, opts, touch=False),
        },
    }


def cold_start(workdir: Path, opts: Options) -> dict[str, Any]:
    """`poller --help`: the interpreter, click and the CLI module, nothing else."""
    walls = []
    for _ in range(opts.cold_repeat):
        result = run_measured([str(POLLER), "--help"], env=clean_env({}), cwd=workdir, timeout=60)
        if result.code != 0:
            raise RuntimeError(f"poller --help exited {result.code}: {result.stderr[-500:]}")
        walls.append(result.wall_s)
    return {"help_wall_s": median(walls), "help_runs_s": [round(w, 4) for w in walls]}
