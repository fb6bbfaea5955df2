"""Finding hires: list hired applications changed since the watermark, record them; and,
at each full listing, the hires this product processed that are no longer hired (un-hires).

Hires are listed by their stage's basic type (``hired``), which needs neither stage names
nor ``/jobs``. Configured stage names or ids only narrow that listing. A filter Pinpoint
refuses is remembered in ``poller_state`` (so a CronJob doesn't pay for the refusal on every
run) and tried again a day later.

The watermark arithmetic is pure (``plan_listing``, ``next_watermark``) and tested without I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from poller import metrics
from poller.config import Settings
from poller.crashpoints import crashpoint
from poller.errors import AuthError, NotFound, PollerError
from poller.models import (
    DELETED_STAGE,
    HIRED,
    Entry,
    HiredStages,
    HireSummary,
    Listing,
    RefusedFilter,
    State,
)
from poller.store.ledger import Ledger
from poller.upstream.pinpoint import UPDATED_FILTER, PinpointClient

log = structlog.get_logger("poller.discovery")

WATERMARK = "watermark"
LAST_POLL = "last_poll_at"
LAST_FULL = "last_full_listing_at"
FIRST_CYCLE = "first_cycle_at"
REFUSED_FILTERS = "pinpoint_refused_filters"
# A refused filter is sent again after this long: the tenant may have been upgraded.
REFUSAL_MEMORY = timedelta(hours=24)


@dataclass(frozen=True)
class ListingPlan:
    since: datetime | None  # None: a full listing
    first_cycle: bool
    baseline_before: datetime | None  # first cycle only: older hires become `baseline`
    reason: str


def plan_listing(
    *,
    watermark: datetime | None,
    table_empty: bool,
    last_full: datetime | None,
    now: datetime,
    overlap: timedelta,
    full_every: timedelta | None,
    configured_backfill: datetime | None,
    backfill_override: datetime | None,
    filter_supported: bool,
) -> ListingPlan:
    """Decide what to ask Pinpoint for this cycle."""
    first = watermark is None and table_empty
    if first:
        baseline_before = backfill_override or configured_backfill or now
        return ListingPlan(None, True, baseline_before, "first cycle")
    if backfill_override is not None:
        return ListingPlan(backfill_override, False, None, "backfill")
    if not filter_supported or watermark is None:
        return ListingPlan(None, False, None, "full listing")
    if full_every is not None and (last_full is None or now - last_full >= full_every):
        return ListingPlan(None, False, None, "periodic reconciliation")
    return ListingPlan(watermark - overlap, False, None, "incremental")


def next_watermark(previous: datetime | None, listing_started: datetime) -> datetime:
    """Never past the moment the listing started: changes after it may not be in it."""
    return listing_started if previous is None else max(previous, listing_started)


def remembered_refusals(raw: str | None, now: datetime) -> dict[str, dict[str, str]]:
    """The refusals recorded in poller_state that are still fresh enough to trust."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    fresh: dict[str, dict[str, str]] = {}
    for name, entry in data.items():
        try:
            at = datetime.fromisoformat(entry["at"])
        except (TypeError, KeyError, ValueError):
            continue
        if now - at < REFUSAL_MEMORY:
            fresh[name] = entry
    return fresh


def with_refusals(
    known: dict[str, dict[str, str]], refused: tuple[RefusedFilter, ...], now: datetime
) -> dict[str, dict[str, str]]:
    merged = dict(known)
    for item in refused:
        merged[item.parameter] = {"at": now.isoformat(), "reason": item.reason[:300]}
    return merged


def narrow(hires: tuple[HireSummary, ...], stage_ids: frozenset[str]) -> tuple[HireSummary, ...]:
    """Keep the hires in the configured stages. A row that names no stage is kept: it was
    listed as a hire, and dropping it could lose one."""
    return tuple(h for h in hires if h.stage_id is None or h.stage_id in stage_ids)


def entry(
    hire: HireSummary, *, now: datetime, settle: timedelta, baseline_before: datetime | None
) -> Entry:
    """How a hire enters the table. The settle window counts from Pinpoint's hired_at, else
    from now (the first time this product saw it hired)."""
    hired_at = hire.hired_at or now
    if baseline_before is not None and hire.updated_at < baseline_before:
        return Entry(State.BASELINE, None, hired_at)
    due = hired_at + settle
    if settle and due > now:  # no window: at once, even if Pinpoint's clock runs ahead of ours
        return Entry(State.SETTLING, due, hired_at)
    return Entry(State.PENDING, None, hired_at)


@dataclass(frozen=True)
class DiscoveryResult:
    listed: int
    new_pending: int
    new_baseline: int
    promoted: int
    requests: int
    reason: str
    new_settling: int = 0
    returned: int = 0  # withdrawn rows listed as hired again
    unhired: int = 0  # un-hire flags raised by this cycle's full listing


class Discovery:
    """Keeps the hired-stage resolution and the filter support between cycles."""

    def __init__(
        self,
        settings: Settings,
        pinpoint: PinpointClient,
        ledger: Ledger,
        notify: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.pinpoint = pinpoint
        self.ledger = ledger
        self.notify = notify  # the events the people who act are told of
        self._stages: HiredStages | None = None
        self._stage_age = 0
        # The last run's listing, and whether it listed every hire (for the watch).
        self.listed: tuple[HireSummary, ...] = ()
        self.listed_all = False

    @property
    def narrowed(self) -> bool:
        cfg = self.settings.pinpoint
        return bool(cfg.hired_stage_names or cfg.hired_stage_ids)

    def hired_stages(self) -> HiredStages:
        """The configured stages (names or ids), else every stage whose basic type is hired.
        Cached for pinpoint.stage_cache_cycles cycles."""
        cfg = self.settings.pinpoint
        if self._stages is None or self._stage_age >= cfg.stage_cache_cycles:
            self._stages = self.pinpoint.resolve_hired_stages(
                cfg.hired_stage_names, cfg.hired_stage_ids
            )
            self._stage_age = 0
            if not self._stages.stage_ids:
                log.warning("discovery.no_hired_stage", names=list(cfg.hired_stage_names))
            for job in self._stages.jobs_without_hired_stage:
                log.info("discovery.job_without_hired_stage", job_id=job.id, job=job.title)
        self._stage_age += 1
        return self._stages

    def list(
        self, *, now: datetime, backfill_override: datetime | None
    ) -> tuple[Listing, ListingPlan]:
        """Plan and run this cycle's listing. Reads the ledger, writes nothing."""
        state = self.ledger.get_state()
        watermark = _parse(state.get(WATERMARK))
        refused = remembered_refusals(state.get(REFUSED_FILTERS), now)
        plan = plan_listing(
            watermark=watermark,
            table_empty=self.ledger.is_empty(),
            last_full=_parse(state.get(LAST_FULL)),
            now=now,
            overlap=timedelta(seconds=self.settings.discovery.overlap_seconds),
            full_every=(
                timedelta(hours=self.settings.discovery.full_reconcile_hours)
                if self.settings.discovery.full_reconcile_hours
                else None
            ),
            configured_backfill=self.settings.discovery.backfill_since,
            backfill_override=backfill_override,
            filter_supported=(
                self.settings.pinpoint.use_updated_filter and UPDATED_FILTER not in refused
            ),
        )
        listing = self.pinpoint.list_hired(
            plan.since, refused=refused, hired_stage_ids=lambda: self.hired_stages().stage_ids
        )
        if self.narrowed:
            listing = Listing(
                narrow(listing.hires, self.hired_stages().stage_ids),
                listing.used_updated_filter,
                listing.requests,
                listing.refused,
            )
        return listing, plan

    def run(self, *, now: datetime, backfill_override: datetime | None) -> DiscoveryResult:
        listing, plan = self.list(now=now, backfill_override=backfill_override)
        crashpoint("after:list")
        settle = timedelta(minutes=self.settings.discovery.settle_minutes)
        counts = self.ledger.record_discovered(
            listing.hires,
            entry=lambda hire: entry(
                hire, now=now, settle=settle, baseline_before=plan.baseline_before
            ),
            now=now,
        )
        crashpoint("checkpoint:discover")
        promoted = 0
        if backfill_override is not None:
            promoted = self.ledger.promote_baseline(
                [h.id for h in listing.hires if h.updated_at >= backfill_override], now=now
            )
        watermark = _parse(self.ledger.get_state().get(WATERMARK))
        values = {
            WATERMARK: next_watermark(watermark, now).isoformat(),
            LAST_POLL: now.isoformat(),
        }
        if plan.since is None or not listing.used_updated_filter:
            values[LAST_FULL] = now.isoformat()
        if plan.first_cycle:
            values[FIRST_CYCLE] = now.isoformat()
        if listing.refused:  # kept, so that the next run (a new CronJob pod) skips them
            known = remembered_refusals(self.ledger.get_state().get(REFUSED_FILTERS), now)
            values[REFUSED_FILTERS] = json.dumps(with_refusals(known, listing.refused, now))
        self.ledger.set_state(values, now=now)
        crashpoint("checkpoint:watermark")
        full = (plan.since is None or not listing.used_updated_filter) and not plan.first_cycle
        self.listed, self.listed_all = listing.hires, full
        unhired = self.find_unhires({h.id for h in listing.hires}, now=now) if full else 0
        result = DiscoveryResult(
            listed=len(listing.hires),
            new_pending=counts[State.PENDING],
            new_baseline=counts[State.BASELINE],
            promoted=promoted,
            requests=listing.requests,
            reason=plan.reason,
            new_settling=counts[State.SETTLING],
            returned=counts["returned"],
            unhired=unhired,
        )
        log.info("discovery.done", **result.__dict__)
        return result

    def find_unhires(self, listed: set[str], *, now: datetime) -> int:
        """After a full listing: each processed hire it didn't list is fetched, and flagged if
        its stage is no longer of type hired (or it is gone). A row the listing missed for
        another reason (paging, narrowing) fetches as hired and is left alone. The employee in
        HiBob is never touched: HR decides."""
        flagged = 0
        for app_id in self.ledger.unhire_candidates():
            if app_id in listed:
                continue
            stage = self._left_for(app_id)
            crashpoint("after:unhire_fetch")
            notify = "unhired" in self.notify
            if stage is None or not self.ledger.flag_unhired(app_id, stage, now=now, notify=notify):
                continue
            flagged += 1
            metrics.unhired_total.inc()
            log.warning("application.unhired", application_id=app_id, stage=stage)
        return flagged

    def _left_for(self, app_id: str) -> str | None:
        """The stage a processed hire is in now, if it is not a hired one; "deleted" if it is
        gone; None if it is still hired, or that can't be told this time."""
        try:
            app = self.pinpoint.get_application(app_id)
        except NotFound:
            return DELETED_STAGE
        except AuthError:
            raise
        except PollerError as exc:  # the next full listing asks again
            log.warning("discovery.unhire_check_failed", application_id=app_id, error=str(exc))
            return None
        if app.stage_basic_type is None or app.stage_basic_type == HIRED:
            return None
        return app.stage_name or app.stage_basic_type


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
