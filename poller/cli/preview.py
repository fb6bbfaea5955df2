"""Dry runs: discover, fetch and map, print what would be sent; write nothing anywhere.

Nothing is written upstream, and the ledger is only read (never migrated), so a dry run is
safe against production before the first real run.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from poller.config import Settings
from poller.cv import document_name, pick_cv
from poller.discovery import Discovery
from poller.errors import MappingError, PollerError, StoreError
from poller.loop.wiring import build_hibob, build_ledger, build_pinpoint
from poller.mapping import build_employee, comment_text
from poller.models import EmployeeLink, Record, State, utcnow
from poller.store.ledger import Ledger
from poller.upstream.hibob_lists import HibobLists
from poller.upstream.pinpoint import PinpointClient


def _lists(settings: Settings) -> HibobLists | None:
    """HiBob's lists (read-only) when its token is set: the payload then shows what the
    title and department checks would do. Without it, values are shown unchecked."""
    if settings.hibob_base64_token is None:
        return None
    return HibobLists(build_hibob(settings), ttl_seconds=float("inf"))


def _would_send(
    pinpoint: PinpointClient,
    settings: Settings,
    app_id: str,
    rec: Record | None = None,
    lists: HibobLists | None = None,
) -> dict[str, Any]:
    """What processing ``app_id`` would send; ``rec`` is its row, resumed from its checkpoints."""
    app = pinpoint.get_application(app_id)
    result: dict[str, Any] = {"application_id": app_id}
    employee_id = rec.hibob_employee_id if rec else None
    link = (rec.employee_link if rec else None) or EmployeeLink.CREATED
    if employee_id is None:
        try:
            payload = build_employee(
                app,
                settings.mapping,
                today=datetime.now().date(),
                hibob_lists=lists.get() if lists else None,
            )
        except MappingError as exc:
            result["error"] = f"cannot map application {app_id}: {exc}"
            return result
        result["create_employee"] = payload.body
        result["start_date_source"] = payload.start_source
        if payload.notes:
            result["notes"] = list(payload.notes)
    else:  # a resumed row: its employee exists, and no create is sent again
        result["employee"] = {"hibob_employee_id": employee_id, "employee_link": link}
    attachment = pick_cv(app.attachments)
    if rec is not None and rec.cv_status is not None:
        result["cv"] = {"status": rec.cv_status}  # that step is done
    elif attachment:
        result["cv"] = {"documentName": document_name(app, attachment), "mode": settings.cv.mode}
    else:
        result["cv"] = None
    result["comment"] = comment_text(employee_id or "<new id>", link, app.first_name, app.last_name)
    return result


def _readable_ledger(settings: Settings) -> Ledger | None:
    """The ledger if it exists at the current schema; a dry run never creates or migrates it."""
    url = make_url(settings.database.url)
    database = (url.database or "").removeprefix("file:").split("?", 1)[0]
    # Connecting to SQLite creates a missing file: look before connecting.
    on_disk = url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if on_disk and not Path(database).is_file():
        return None
    ledger = build_ledger(settings)
    try:
        return ledger if ledger.schema_current() else None
    except StoreError:
        return None


def dry_run(settings: Settings, *, backfill_since: datetime | None) -> int:
    pinpoint = build_pinpoint(settings)
    ledger = _readable_ledger(settings)
    lists = _lists(settings)
    try:
        rows = _due_rows(settings, pinpoint, ledger, backfill_since)
        for app_id, rec in rows.items():
            line = _would_send(pinpoint, settings, app_id, rec, lists)
            click.echo(json.dumps(line, ensure_ascii=False))
    except PollerError as exc:
        click.echo(f"poller: dry run failed: {exc}", err=True)
        return 1
    click.echo(f"dry run: {len(rows)} hire(s) would be processed; nothing was written", err=True)
    return 0


def _due_rows(
    settings: Settings,
    pinpoint: PinpointClient,
    ledger: Ledger | None,
    backfill_since: datetime | None,
) -> dict[str, Record | None]:
    """The applications a real cycle would work now, each with its row if it has one:
    new hires from the listing, then rows already pending and due (listed or not)."""
    now = utcnow()
    discovery = Discovery(settings, pinpoint, ledger or _NoLedger())  # type: ignore[arg-type]
    listing, plan = discovery.list(now=now, backfill_override=backfill_since)
    known = {r.application_id: r for r in ledger.rows(limit=0)} if ledger else {}
    due: dict[str, Record | None] = {}
    for hire in listing.hires:
        rec = known.get(hire.id)
        if rec is None:
            if plan.baseline_before is None or hire.updated_at >= plan.baseline_before:
                due[hire.id] = None  # else it would be recorded as baseline
        elif rec.state == State.BASELINE and backfill_since and hire.updated_at >= backfill_since:
            due[hire.id] = rec
    for rec in known.values():
        if rec.state == State.PENDING and (
            rec.next_attempt_at is None or rec.next_attempt_at <= now
        ):
            due[rec.application_id] = rec
    return due


class _NoLedger:
    """Stands in for a ledger that doesn't exist yet: empty, no state."""

    def get_state(self) -> dict[str, str]:
        return {}

    def is_empty(self) -> bool:
        return True


def preview_one(settings: Settings, app_id: str) -> int:
    pinpoint = build_pinpoint(settings)
    try:
        result = _would_send(pinpoint, settings, app_id, lists=_lists(settings))
    except PollerError as exc:
        click.echo(f"poller: preview of application {app_id} failed: {exc}", err=True)
        return 1
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if "error" in result else 0
