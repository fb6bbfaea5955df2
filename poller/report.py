"""Rendering the ledger for people (`status`, `list`, `show`): rich on a TTY, plain otherwise."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from poller.models import ChangeRecord, Event, Record, State, utcnow
from poller.store.ledger import Ledger

TABLE_COLUMNS = (
    "application_id",
    "state",
    "candidate_name",
    "hibob_employee_id",
    "employee_link",
    "cv_status",
    "pinpoint_comment_id",
    "attempts",
    "updated_at",
    "last_error",
    "unhired_stage",  # set while the un-hire flag is up
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    # Rows hold candidate data: never let it drive the operator's terminal.
    return "".join(ch if ch.isprintable() else " " for ch in str(value))


def _jsonable(rec: Record) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in rec.as_dict().items()}


def render_rows(
    rows: Sequence[Record], fmt: str, *, out: Any = None, pretty: bool | None = None
) -> None:
    """`pretty` forces (or forbids) the rich table; by default it follows isatty()."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump([_jsonable(r) for r in rows], out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        fields = list(Record.__dataclass_fields__)
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _text(v) for k, v in r.as_dict().items()})
    elif pretty or (pretty is None and out.isatty()):
        _rich_table(rows, out)
    else:  # machine-readable: tab-separated with a header
        out.write("\t".join(TABLE_COLUMNS) + "\n")
        for r in rows:
            cells = [
                _text(getattr(r, c)).replace("\t", " ").replace("\n", " ") for c in TABLE_COLUMNS
            ]
            out.write("\t".join(cells) + "\n")


def _rich_table(rows: Sequence[Record], out: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for col in ("application", "state", "candidate", "HiBob id", "link", "CV", "comment"):
        table.add_column(col, no_wrap=True)
    table.add_column("tries", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("last error", overflow="fold", min_width=30)
    styles: dict[str, str] = {
        State.DONE: "green",
        State.FAILED: "red",
        State.PENDING: "yellow",
        State.IN_PROGRESS: "cyan",
        State.SETTLING: "blue",
        State.WITHDRAWN: "magenta",
    }
    for r in rows:
        cells = [
            _text(v)
            for v in (
                r.application_id,
                r.candidate_name,
                r.hibob_employee_id,
                r.employee_link,
                r.cv_status,
            )
        ]
        table.add_row(
            escape(cells[0]),
            f"[{styles.get(r.state, 'dim')}]{r.state}[/]"
            + (f" [bold red]unhired: {escape(_text(r.unhired_stage))}[/]" if r.unhired_at else ""),
            *(escape(c) for c in cells[1:]),
            "yes" if r.pinpoint_comment_id else "",
            str(r.attempts),
            r.updated_at.strftime("%Y-%m-%d %H:%M"),
            escape(_text(r.last_error)[:120]),
        )
    # Off a terminal (a container log, a pipe) rich would assume 80 columns and fold every id.
    Console(file=out, width=None if out.isatty() else 200).print(table)


def status_data(ledger: Ledger) -> dict[str, Any]:
    from poller.cycle import LAST_CYCLE_AT, LAST_CYCLE_ERROR, LAST_CYCLE_OUTCOME
    from poller.discovery import FIRST_CYCLE, LAST_POLL, WATERMARK

    state = ledger.get_state()
    oldest = ledger.oldest_pending()
    open_changes, oldest_change = ledger.open_changes()
    return {
        "counts": ledger.counts(),
        "unhired": ledger.unhired_count(),
        "open_changes": open_changes,
        "oldest_open_change_since": oldest_change.isoformat() if oldest_change else None,
        "last_cycle_at": state.get(LAST_CYCLE_AT),
        "last_cycle_outcome": state.get(LAST_CYCLE_OUTCOME),
        "last_cycle_error": state.get(LAST_CYCLE_ERROR) or None,
        "last_successful_poll": state.get(LAST_POLL),
        "watermark": state.get(WATERMARK),
        "first_cycle_at": state.get(FIRST_CYCLE),
        "oldest_pending_since": oldest.isoformat() if oldest else None,
        "oldest_pending_age_seconds": round((utcnow() - oldest).total_seconds())
        if oldest
        else None,
    }


def status_report(ledger: Ledger, fmt: str) -> str:
    data = status_data(ledger)
    if fmt == "json":
        return json.dumps(data, indent=2)
    counts = data["counts"]
    lines = ["Applications by state:"]
    lines += [f"  {state:<12} {n}" for state, n in counts.items()]
    lines.append(
        f"  ({counts['baseline']} baseline: hires from before the first run, left alone on purpose)"
    )
    if counts.get("settling"):
        lines.append(f"  ({counts['settling']} settling: hired too recently to act on, due later)")
    unhired = data["unhired"]
    lines.append(
        f"Un-hire flags:        {unhired} (hires processed, then no longer hired: "
        "`poller list --state unhired`, then `poller ack ID`)"
        if unhired
        else "Un-hire flags:        none"
    )
    open_changes = data["open_changes"]
    lines.append(
        f"Open changes:         {open_changes} (changed in Pinpoint after the hire, for a person: "
        "`poller list --state changed`, `poller show ID`, then `poller ack ID`)"
        if open_changes
        else "Open changes:         none"
    )
    lines.append(f"Last cycle:           {last_cycle_text(data)}")
    lines.append(f"Last successful poll: {data['last_successful_poll'] or 'never'}")
    lines.append(f"Watermark:            {data['watermark'] or 'none yet'}")
    oldest = data["oldest_pending_since"]
    lines.append(
        f"Oldest pending:       {oldest} ({data['oldest_pending_age_seconds']}s ago)"
        if oldest
        else "Oldest pending:       none"
    )
    return "\n".join(lines)


def last_cycle_text(data: dict[str, Any]) -> str:
    """ "<time> ok", "<time> error: <why>", or "none recorded" (before the first cycle)."""
    if not data.get("last_cycle_at"):
        return "none recorded"
    text = f"{data['last_cycle_at']} {data.get('last_cycle_outcome') or '?'}"
    return f"{text}: {_text(data['last_cycle_error'])}" if data.get("last_cycle_error") else text


# What `poller show` prints, in pieces that the status page (poller.web) renders the same way.
def row_fields(rec: Record) -> list[tuple[str, str]]:
    """Every column of the row, as (name, text)."""
    return [(k, _text(v)) for k, v in rec.as_dict().items()]


def row_notes(rec: Record) -> list[str]:
    """Warnings a person reading the row should see."""
    notes = []
    if rec.unhired_at:
        notes.append(
            f"UN-HIRED: no longer in a hired stage ({_text(rec.unhired_stage)}) since "
            f"{_text(rec.unhired_at)}; HiBob employee {rec.hibob_employee_id or ''} was left "
            f"as it is for HR to decide. `poller ack {rec.application_id}` clears this flag"
        )
    if rec.state == State.SETTLING and rec.next_attempt_at:
        notes.append(
            f"settling: hired at {_text(rec.hired_at)}; acted on from {_text(rec.next_attempt_at)}"
        )
    if rec.state == State.WITHDRAWN:
        notes.append(
            f"withdrawn: in stage {_text(rec.withdrawn_stage)} when fetched, before anything was "
            "written; it is picked up again if it comes back to a hired stage"
        )
    if rec.comment_started_at and not rec.pinpoint_comment_id:
        notes.append(
            "a comment was being posted when the last attempt stopped; the next attempt "
            "lists the application's comments before posting again"
        )
    return notes


def change_rows(changes: Sequence[ChangeRecord]) -> list[dict[str, str]]:
    """The row's changes after the hire, one dict of texts per change, oldest first."""
    return [
        {
            "detected_at": c.detected_at.isoformat(timespec="seconds"),
            "field": _text(c.field),
            "old_value": _text(c.old_value),
            "new_value": _text(c.new_value),
            "action": _text(c.action),
            "open": "open" if c.open else "",
            "synced_at": _text(c.synced_at),
            "acked_at": _text(c.acked_at),
            "note": _text(c.note),
        }
        for c in changes
    ]


def _change_json(c: ChangeRecord) -> dict[str, Any]:
    data = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in c.__dict__.items()}
    data["open"] = c.open
    for internal in ("payload", "claimed_by", "lease_expires_at"):
        data.pop(internal)
    return data


def history_rows(events: Sequence[Event]) -> list[dict[str, str]]:
    """The row's history, one dict of texts per line, oldest first."""
    return [
        {
            "at": e.at.isoformat(timespec="seconds"),
            "attempt": str(e.attempt),
            "step": _text(e.step),
            "outcome": _text(e.outcome),
            "message": _text(e.message),
            "worker": _text(e.worker),
        }
        for e in events
    ]


def show_row(
    rec: Record, events: Sequence[Event], fmt: str, changes: Sequence[ChangeRecord] = ()
) -> str:
    if fmt == "json":
        data = _jsonable(rec)
        data["changes"] = [_change_json(c) for c in changes]
        data["history"] = [
            {
                "at": e.at.isoformat(),
                "attempt": e.attempt,
                "step": e.step,
                "outcome": e.outcome,
                "message": e.message,
                "worker": e.worker,
            }
            for e in events
        ]
        return json.dumps(data, indent=2)
    fields = row_fields(rec)
    width = max(len(k) for k, _ in fields)
    lines = [f"{k:<{width}}  {v}" for k, v in fields]
    lines += [f"note: {note}" for note in row_notes(rec)]
    if changes:
        lines.append("")
        lines.append("changes after the hire:")
        for c in change_rows(changes):
            when = c["synced_at"] or c["acked_at"]
            lines.append(
                f"  {c['detected_at']}  {c['field']:<10} {c['old_value']} -> {c['new_value']}  "
                f"[{c['action']}{', open' if c['open'] else ''}"
                f"{', acknowledged' if c['acked_at'] else ''}]{f' {when}' if when else ''}"
            )
            if c["note"]:
                lines.append(f"      {c['note']}")
    lines.append("")
    lines.append("history:")
    for h in history_rows(events):
        msg = f"  {h['message']}" if h["message"] else ""
        lines.append(f"  {h['at']}  #{h['attempt']:<2} {h['step']:<9} {h['outcome']}{msg}")
    return "\n".join(lines)
