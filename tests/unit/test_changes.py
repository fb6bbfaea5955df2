"""After the hire: what is watched, what counts as a change, what is done about it (pure), and
how the store records a sighting and hands out its writes exactly once (both databases)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from poller import changes
from poller.config import ChangesSettings, MappingSettings
from poller.errors import LeaseLost
from poller.models import Application, ChangeAction, HireSummary
from poller.store.changes import Decided
from poller.store.ledger import Ledger
from tests.support.ledger import discover

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
MAPPING = MappingSettings(
    site_map={"London, United Kingdom": "London", "New York, United States": "New York"},
    default_site="Remote",
    department_map={"Product": "Engineering"},
    title_map={"Senior Backend Engineer (Payments)": "Backend Engineer"},
)


def application(**kw: object) -> Application:
    values: dict[str, object] = {
        "id": "8863902",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": " Ada@Example.com ",
        "phone": None,
        "updated_at": NOW,
        "job_id": "17",
        "job_title": "Senior Backend Engineer (Payments)",
        "department": "Product",
        "location": "London, United Kingdom",
        "offer_start_on": date(2026, 4, 1),
        "start_on": date(2026, 3, 20),
    }
    values.update(kw)
    return Application(**values)  # type: ignore[arg-type]


def watched(**kw: object) -> dict[str, str]:
    return changes.watched_values(application(**kw), MAPPING)


def test_what_is_watched_is_what_was_sent_as_the_mapping_maps_it() -> None:
    assert watched() == {
        "start_date": "2026-04-01",  # the accepted offer's, before the application's
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "site": "London",
        "department": "Engineering",
        "title": "Backend Engineer",
    }
    assert watched(offer_start_on=None)["start_date"] == "2026-03-20"
    assert watched(offer_start_on=None, start_on=None)["start_date"] == ""  # never a default
    assert watched(location="Mars")["site"] == "Remote"
    assert watched(department=None)["department"] == ""


def test_a_first_sighting_is_taken_as_it_is() -> None:
    found = changes.compare({}, watched())
    assert found.changes == () and found.watched == watched()
    # A row from before the watch: its start date as sent is known, the rest comes now.
    found = changes.compare(changes.initial_watched(date(2026, 3, 25), "offer"), watched())
    assert [(c.field, c.old_value, c.new_value) for c in found.changes] == [
        ("start_date", "2026-03-25", "2026-04-01")
    ]
    assert changes.initial_watched(date(2026, 3, 25), "default") == {"start_date": ""}
    assert changes.initial_watched(None, None) == {}


def test_each_group_that_differs_is_one_change_with_what_a_sync_writes() -> None:
    before = watched()
    found = changes.compare(
        before,
        watched(
            offer_start_on=date(2026, 4, 15),
            last_name="King",
            email="ada.king@example.com",
            location="New York, United States",
            job_title="Data Engineer",
        ),
    )
    got = {c.field: c for c in found.changes}
    assert list(got) == ["start_date", "name", "email", "job"]
    assert (got["start_date"].old_value, got["start_date"].new_value) == (
        "2026-04-01",
        "2026-04-15",
    )
    assert got["start_date"].payload == {"startDate": "2026-04-15"}
    assert (got["name"].old_value, got["name"].new_value) == ("Ada Lovelace", "Ada King")
    assert got["name"].payload == {"firstName": "Ada", "surname": "King"}
    assert got["email"].payload is None and got["job"].payload is None
    # Only the parts of the job that changed are named.
    assert got["job"].old_value == "site: London; title: Backend Engineer"
    assert got["job"].new_value == "site: New York; title: Data Engineer"
    assert changes.compare(found.watched, found.watched).changes == ()


def test_a_value_that_empties_is_not_a_change_and_is_not_forgotten() -> None:
    before = watched()
    emptied = watched(offer_start_on=None, start_on=None, email=None, last_name=None)
    found = changes.compare(before, emptied)
    assert found.changes == () and found.watched == before
    # ... so when it comes back as it was, nothing is written again.
    assert changes.compare(found.watched, before).changes == ()
    # A job that loses its department is a change of the job (there is nothing to write).
    (job,) = changes.compare(before, watched(department=None)).changes
    assert (job.old_value, job.new_value) == ("department: Engineering", "department: (none)")


def test_the_stored_form_is_one_text_per_set_of_values() -> None:
    assert changes.dump(watched()) == changes.dump(dict(reversed(watched().items())))
    assert changes.load(changes.dump(watched())) == watched()
    assert changes.load("not json") == {} and changes.load(None) == {}


POLICY = ChangesSettings()


@pytest.mark.parametrize(
    ("field", "policy", "start", "action"),
    [
        ("start_date", POLICY, date(2026, 3, 10), ChangeAction.PENDING),
        ("name", POLICY, date(2026, 3, 10), ChangeAction.PENDING),
        ("start_date", POLICY, TODAY, ChangeAction.FLAGGED),  # starts today: started
        ("name", POLICY, date(2026, 2, 1), ChangeAction.FLAGGED),
        ("name", POLICY, None, ChangeAction.FLAGGED),  # unknown: nothing written on a guess
        ("start_date", ChangesSettings(start_date="flag"), date(2026, 9, 1), ChangeAction.FLAGGED),
        ("name", ChangesSettings(name="ignore"), date(2026, 9, 1), ChangeAction.IGNORED),
        ("email", POLICY, date(2026, 9, 1), ChangeAction.FLAGGED),
        ("email", ChangesSettings(email="ignore"), date(2026, 9, 1), ChangeAction.IGNORED),
        ("job", POLICY, date(2026, 9, 1), ChangeAction.FLAGGED),
    ],
)
def test_what_is_done_about_a_change(
    field: str, policy: ChangesSettings, start: date | None, action: ChangeAction
) -> None:
    change = changes.Change(field, "a", "b")
    got, note = changes.decide(change, policy, app_id="7", hibob_start=start, today=TODAY)
    assert got == action
    if action is ChangeAction.FLAGGED:
        assert note is not None and "`poller ack 7`" in note


def test_an_employee_linked_not_created_is_never_written() -> None:
    """A rehire, or HR was quicker: the poller didn't create that employee and doesn't know
    its start date in HiBob, so nothing is written to it."""
    for field in ("start_date", "name"):
        change = changes.Change(field, "a", "b")
        got, note = changes.decide(
            change, POLICY, app_id="7", hibob_start=date(2026, 9, 1), today=TODAY, linked=True
        )
        assert got is ChangeAction.FLAGGED and note is not None and "linked" in note


def test_email_and_job_are_never_written_whatever_the_config_says() -> None:
    for field in ("email", "job"):
        assert field not in changes.WRITABLE
    with pytest.raises(ValueError, match="flag"):
        ChangesSettings(email="sync")  # type: ignore[arg-type]


# -- the store --------------------------------------------------------------------------


def processed(ledger: Ledger, app_id: str, start: date | None = date(2026, 4, 1)) -> None:
    discover(ledger, [HireSummary(app_id, NOW)], now=NOW)
    assert ledger.claim_next("w", lease_seconds=60, now=NOW, exclude=()) is not None
    ledger.checkpoint(
        app_id,
        "w",
        step="comment",
        outcome="done",
        hibob_employee_id=f"e{app_id}",
        state="done",
        claimed_by=None,
        start_date=start,
        start_date_source="offer",
        completed_at=NOW,
    )


def pending(field: str = "start_date", new: str = "2026-04-15") -> Decided:
    return (field, "2026-04-01", new, ChangeAction.PENDING, None, json.dumps({"startDate": new}))


def test_a_sighting_is_recorded_once_by_compare_and_set(ledger: Ledger) -> None:
    processed(ledger, "1")
    (rec,) = ledger.watched_rows(None, today=TODAY, watch_days=30, now=NOW)
    first = ledger.record_sighting(
        "1", old=rec.watched, new='{"x":"1"}', changes=[pending()], now=NOW
    )
    assert first is not None and [c.action for c in first] == ["pending"]
    # Another replica (or a rerun) with the same sighting finds the row already moved on.
    again = ledger.record_sighting(
        "1", old=rec.watched, new='{"x":"1"}', changes=[pending()], now=NOW
    )
    assert again is None
    assert len(ledger.changes_of("1")) == 1
    assert [e.step for e in ledger.events("1")][-1] == "change"


def test_only_watched_hires_are_compared(ledger: Ledger) -> None:
    processed(ledger, "1", start=date(2026, 4, 1))
    processed(ledger, "2", start=date(2026, 1, 1))  # started two months ago
    processed(ledger, "3", start=None)  # no start date recorded: watched from its completion
    discover(ledger, [HireSummary("4", NOW)], now=NOW)  # not processed yet
    rows = ledger.watched_rows(None, today=TODAY, watch_days=30, now=NOW)
    assert sorted(r.application_id for r in rows) == ["1", "3"]
    assert [
        r.application_id
        for r in ledger.watched_rows({"3", "4"}, today=TODAY, watch_days=30, now=NOW)
    ] == ["3"]
    later = NOW + timedelta(days=31)
    rows = ledger.watched_rows(None, today=later.date(), watch_days=30, now=later)
    assert [r.application_id for r in rows] == ["1"]
    ledger.flag_unhired("1", "Rejected", now=NOW)
    assert ledger.watched_rows(None, today=later.date(), watch_days=30, now=later) == []


def test_writes_of_one_field_are_handed_out_in_order_once(ledger: Ledger) -> None:
    processed(ledger, "1")
    ledger.record_sighting("1", old=None, new="a", changes=[pending(new="2026-04-10")], now=NOW)
    first = ledger.claim_change("w1", now=NOW, lease_seconds=60)
    assert first is not None and first.new_value == "2026-04-10"
    ledger.change_checkpoint(first, "w1", now=NOW, outcome="started", sync_started_at=NOW)
    # A newer value while the first is being written: it waits for the first.
    ledger.record_sighting("1", old="a", new="b", changes=[pending(new="2026-04-20")], now=NOW)
    assert ledger.claim_change("w2", now=NOW, lease_seconds=60) is None
    with pytest.raises(LeaseLost):
        ledger.change_checkpoint(first, "w2", now=NOW, outcome="synced", action="synced")
    ledger.change_checkpoint(
        first,
        "w1",
        now=NOW,
        outcome="synced",
        action="synced",
        claimed_by=None,
        row_values={"start_date": date(2026, 4, 10)},
    )
    second = ledger.claim_change("w2", now=NOW, lease_seconds=60)
    assert second is not None and second.new_value == "2026-04-20"
    assert ledger.get("1").start_date == date(2026, 4, 10)  # type: ignore[union-attr]
    # A lease that ran out is taken over; one that didn't is not.
    assert ledger.claim_change("w3", now=NOW + timedelta(seconds=30), lease_seconds=60) is None
    taken = ledger.claim_change("w3", now=NOW + timedelta(seconds=61), lease_seconds=60)
    assert taken is not None and taken.id == second.id and taken.attempts == 2


def test_a_newer_value_supersedes_one_not_yet_being_written(ledger: Ledger) -> None:
    processed(ledger, "1")
    ledger.record_sighting("1", old=None, new="a", changes=[pending(new="2026-04-10")], now=NOW)
    ledger.record_sighting("1", old="a", new="b", changes=[pending(new="2026-04-20")], now=NOW)
    assert [(c.new_value, c.action) for c in ledger.changes_of("1")] == [
        ("2026-04-10", "ignored"),
        ("2026-04-20", "pending"),
    ]


def test_open_changes_are_counted_listed_and_closed_by_ack(ledger: Ledger) -> None:
    processed(ledger, "1")
    processed(ledger, "2")
    flagged = ("email", "a@x.com", "b@x.com", ChangeAction.FLAGGED, "look", None)
    ignored = ("job", "site: A", "site: B", ChangeAction.IGNORED, None, None)
    ledger.record_sighting("1", old=None, new="a", changes=[flagged, ignored], now=NOW)
    ledger.record_sighting("2", old=None, new="a", changes=[ignored], now=NOW)
    assert ledger.open_changes() == (1, NOW)
    assert [r.application_id for r in ledger.rows(state="changed")] == ["1"]
    assert ledger.ack("1", now=NOW, note="HR changed it") == (False, 1)
    assert ledger.open_changes() == (0, None)
    assert ledger.rows(state="changed") == []
    (closed, _) = ledger.changes_of("1")
    assert closed.acked_at == NOW and closed.note == "look | acknowledged: HR changed it"
    assert ledger.ack("1", now=NOW, note=None) == (False, 0)


def test_purge_empties_what_changes_and_notifications_say(ledger: Ledger) -> None:
    processed(ledger, "1")
    flagged = ("email", "a@x.com", "b@x.com", ChangeAction.FLAGGED, "look", None)
    ledger.record_sighting(
        "1", old=None, new='{"email":"b@x.com"}', changes=[flagged], now=NOW, notify=True
    )
    (notice,) = ledger.notices_after(0)
    assert notice.event == "changed" and "b@x.com" in (notice.summary or "")
    assert ledger.purge("1", now=NOW)
    (notice,) = ledger.notices_after(0)
    assert notice.summary is None and notice.candidate_name is None
    (change,) = ledger.changes_of("1")
    assert (change.field, change.old_value, change.new_value, change.note) == (
        "email",
        None,
        None,
        None,
    )
    assert ledger.get("1").watched is None  # type: ignore[union-attr]
