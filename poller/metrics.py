"""Prometheus metrics, named as in design.md's interface. Updated where the facts arise."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

applications = Gauge(
    "poller_applications", "Rows in processed_applications by state", ["state"], registry=REGISTRY
)
hires_total = Counter(
    "poller_hires_total", "Hires by outcome, counted once per hire", ["outcome"], registry=REGISTRY
)
upstream_requests_total = Counter(
    "poller_upstream_requests_total",
    "Upstream HTTP requests by API, endpoint and status ('error' when no answer came)",
    ["api", "endpoint", "status"],
    registry=REGISTRY,
)
rate_limited_total = Counter(
    "poller_rate_limited_total", "429 answers received", ["api", "endpoint"], registry=REGISTRY
)
retries_total = Counter(
    "poller_retries_total", "In-process HTTP retries", ["api", "endpoint"], registry=REGISTRY
)
discovery_fallback_total = Counter(
    "poller_discovery_fallback_total",
    "Listings that fell back to a full scan because filter[updated_at] was rejected",
    registry=REGISTRY,
)
cycle_duration_seconds = Histogram(
    "poller_cycle_duration_seconds",
    "Wall time of one poll cycle",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
cycles_total = Counter("poller_cycles_total", "Cycles by outcome", ["outcome"], registry=REGISTRY)
last_successful_cycle = Gauge(
    "poller_last_successful_cycle_timestamp_seconds",
    "Unix time of the last cycle that completed",
    registry=REGISTRY,
)
oldest_pending_age = Gauge(
    "poller_oldest_pending_age_seconds",
    "Age of the oldest pending row (0 when none)",
    registry=REGISTRY,
)
unhired_flags = Gauge(
    "poller_unhired_flags",
    "Rows whose un-hire flag is up and not yet acknowledged (poller ack)",
    registry=REGISTRY,
)
unhired_total = Counter(
    "poller_unhired_total",
    "Un-hire flags raised: a processed hire found no longer in a hired stage, or gone",
    registry=REGISTRY,
)
changes_total = Counter(
    "poller_changes_total",
    "Changes seen in Pinpoint after a hire, by field and what became of them",
    ["field", "action"],
    registry=REGISTRY,
)
change_flags = Gauge(
    "poller_change_flags",
    "Open changes: flagged or sync_failed and not yet acknowledged (poller ack)",
    registry=REGISTRY,
)
oldest_open_change_age = Gauge(
    "poller_oldest_open_change_age_seconds",
    "Age of the oldest open change (0 when none)",
    registry=REGISTRY,
)
notifications_total = Counter(
    "poller_notifications_total",
    "Notification messages by outcome, per message and target: sent or failed",
    ["outcome"],
    registry=REGISTRY,
)
