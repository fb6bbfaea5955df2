"""Dry runs: discover, fetch and map, print what would be sent; write nothing anywhere.

Nothing is written upstream, and the ledger is only read (never migrated), so a dry run is
safe against production before the first real run.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from poller.config import Settings
from poller.cv import document_name, pick_cv
from poller.discovery import Discovery
from poller.errors import MappingError, PollerError, StoreError
from poller.ledger import Ledger
from poller.mapping import build_employee, comment_text
from poller.pinpoint import PinpointClient
from poller.wiring import build_ledger, build_pinpoint


def _would_send(pinpoint: PinpointClient, settings: Settings, app_id: str) -> dict[str, Any]:
    app = pinpoint.get_application(app_id)
    result: dict[str, Any] = {"application_id": app_id}
    try:
        payload = build_employee(app, settings.mapping, today=datetime.now().date())
    except MappingError as exc:
        result["error"] = f"cannot map application {app_id}: {exc}"
        return result
    attachment = pick_cv(app.attachments)
    result["create_employee"] = payload.body
    result["cv"] = (
        {"documentName": document_name(app, attachment), "mode": settings.cv.mode}
        if attachment
        else None
    )
    result["comment"] = comment_text("<new id>", "created", app.first_name, app.last_name)
    return result


def _readable_ledger(settings: Settings) -> Ledger | None:
    """The ledger if it exists at the current schema; a dry run never creates or migrates it."""
    ledger = build_ledger(settings)
    try:
        return ledger if ledger.schema_current() else None
    except StoreError:
        return None


def dry_run(settings: Settings, *, backfill_since: datetime | None) -> int:
    pinpoint = build_pinpoint(settings)
    ledger = _readable_ledger(settings)
    try:
        ids = _unseen_ids(settings, pinpoint, ledger, backfill_since)
        for app_id in ids:
            click.echo(json.dumps(_would_send(pinpoint, settings, app_id), ensure_ascii=False))
    except PollerError as exc:
        click.echo(f"poller: dry run failed: {exc}", err=True)
        return 1
    click.echo(f"dry run: {len(ids)} hire(s) would be processed; nothing was written", err=True)
    return 0


def _unseen_ids(
    settings: Settings,
    pinpoint: PinpointClient,
    ledger: Ledger | None,
    backfill_since: datetime | None,
) -> list[str]:
    from poller.ledger import utcnow

    now = utcnow()
    discovery = Discovery(settings, pinpoint, ledger or _NoLedger())  # type: ignore[arg-type]
    listing, plan = discovery.list(now=now, backfill_override=backfill_since)
    known = {r.application_id: r.state for r in ledger.rows(limit=0)} if ledger else {}
    ids = []
    for hire in listing.hires:
        state = known.get(hire.id)
        if state is None:
            if plan.baseline_before is not None and hire.updated_at < plan.baseline_before:
                continue  # would be recorded as baseline
            ids.append(hire.id)
        elif state == "pending" or (
            state == "baseline" and backfill_since and hire.updated_at >= backfill_since
        ):
            ids.append(hire.id)
    return ids


class _NoLedger:
    """Stands in for a ledger that doesn't exist yet: empty, no state."""

    def get_state(self) -> dict[str, str]:
        return {}

    def is_empty(self) -> bool:
        return True


def preview_one(settings: Settings, app_id: str) -> int:
    pinpoint = build_pinpoint(settings)
    try:
        result = _would_send(pinpoint, settings, app_id)
    except PollerError as exc:
        click.echo(f"poller: preview of application {app_id} failed: {exc}", err=True)
        return 1
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if "error" in result else 0
