"""Pinpoint's state: the Python API the tests, the demo and the control plane shape the world
with (jobs, hires, moves over time, comments, offers). Thread-safe; pinpoint.py serves it.

Edits after the hire (pinpoint.md "After the hire"): an offer added or changed, the
application's own start_on, the candidate's copy of the name and email, and a job's title,
location or department (seen by every application of the job). Whether each moves the
application's updated_at is `edits_touch_updated_at` (default True), unless a call says `touch`.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from .clock import DateLike, as_date, utc
from .data import LONDON, STANDARD_STAGES
from .pinpoint_records import CV_KINDS, PinpointRecords
from .records import (
    OFFER_STATUSES,
    STAGE_TYPES,
    VISIBILITIES,
    Application,
    Comment,
    Department,
    Job,
    Location,
    Offer,
    ScheduledMove,
    Stage,
)


class PinpointState(PinpointRecords):
    def add_job(
        self,
        title: str,
        department: str = "Engineering",
        location: str = LONDON,
        visibility: str = "external",
        hired_stage_name: str = "Hired",
        *,
        updated_at: datetime | None = None,
        workflow: Sequence[tuple[str, str]] | None = None,
    ) -> str:
        """A job with the standard workflow, ending in `hired_stage_name`. Returns its id.

        workflow: (name, basic_type) pairs instead of the standard workflow and hired stage;
        it must have exactly one stage of basic type "hired".
        """
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        stages = list(workflow or (*STANDARD_STAGES, (hired_stage_name, "hired")))
        if any(kind not in STAGE_TYPES for _, kind in stages):
            raise ValueError(f"a stage's basic_type is one of {', '.join(STAGE_TYPES)}")
        if [kind for _, kind in stages].count("hired") != 1:
            raise ValueError("a workflow has exactly one hired stage")
        with self._locked():
            now = utc(updated_at or self.clock.now())
            place = self._named(self._locations, Location, "location", location)
            unit = self._named(self._departments, Department, "department", department)
            opened = now - timedelta(days=90)  # jobs predate their applications
            job = Job(self._ids.next("job"), title, unit.id, place.id, visibility, [], opened, now)
            for name, kind in stages:
                stage = Stage(self._ids.next("stage"), name, job.id, kind)
                self._stages[stage.id] = stage
                job.stage_ids.append(stage.id)
            self._jobs[job.id] = job
            return job.id

    def add_hire(
        self,
        first: str,
        last: str,
        email: str | None,
        *,
        job: str | None = None,
        cv: bool | str | None = True,
        stage: str = "hired",
        updated_at: datetime | None = None,
        confidential: bool = False,
        start_date: DateLike = None,
        start_on: DateLike = None,
        offers: Sequence[Mapping[str, Any]] = (),
        phone: str | None = None,
        anonymised: bool = False,
    ) -> str:
        """Add an application; by default a hire. Returns the application id.

        job: a job id or title; default the first (non-)confidential job, per `confidential`.
        cv: True or "pdf" (a pdf_cv), "docx" (a cv), "both", or False/None (no CV).
        stage: "hired" (the job's hired stage, whatever its name), or a stage name or id.
        offers: [{"start_on": date or ISO string or None, "status": "declined"}, ...]; the
            status defaults to "accepted".
        start_date: adds an accepted offer starting then (after `offers`).
        start_on: the application's own start_on attribute.
        anonymised: hide the candidate (no email or phone; names "Candidate" and the id).
        A hire's hired_at is its updated_at.
        """
        kinds = CV_KINDS["pdf" if cv is True else cv] if cv else ()
        specs = [_offer_spec(o) for o in offers]
        if start_date is not None:
            specs.append((as_date(start_date), "accepted"))
        with self._locked():
            the_job = self._pick_job(job, confidential)
            stage_id = self._pick_stage(the_job, stage)
            when = utc(updated_at or self.clock.now())
            app_id = self._ids.next("application")
            if anonymised:
                first, last, email, phone = "Candidate", app_id, None, None
            elif phone is None:
                phone = f"+44 7700 900{self._rng.randint(0, 999):03d}"
            if email is not None:
                self.people.reserve(email)
            app = Application(
                app_id,
                the_job.id,
                stage_id,
                first,
                last,
                email,
                phone,
                created_at=when - timedelta(days=self._rng.randint(1, 30)),
                updated_at=when,
                hired_at=when if self._stages[stage_id].hired else None,
                start_on=as_date(start_on),
            )
            app.attachments = [self._attachment(kind, first, last) for kind in kinds]
            app.offers = [Offer(self._ids.next("offer"), day, status) for day, status in specs]
            self._applications[app_id] = app
            return app_id

    def seed_hires(self, count: int, confidential: bool = False) -> list[str]:
        """`count` more hires with seeded names, spread over the (non-)confidential jobs."""
        with self._locked():
            jobs = [
                j.id
                for j in self._jobs.values()
                if (j.visibility == "confidential") == confidential
            ]
            ids = []
            for i in range(count):
                first, last, email = self.people.person()
                ids.append(self.add_hire(first, last, email, job=jobs[i % len(jobs)]))
            return ids

    def move_application(
        self, application_id: str, stage: str, updated_at: datetime | None = None
    ) -> None:
        """Move an application to a stage ("hired", a name or an id), touching updated_at.

        Entering the hired stage sets hired_at to the move's time; leaving it clears hired_at
        (our assumption: the contract only says it is null until hired).
        """
        with self._locked():
            app = self._application(application_id)
            stage_id = self._pick_stage(self._job(app.job_id), stage)
            self._move(app, stage_id, utc(updated_at or self.clock.now()))

    def schedule_move(
        self,
        application_id: str,
        stage: str,
        *,
        at: datetime | None = None,
        after_seconds: float | None = None,
    ) -> datetime:
        """Move an application when the simulator clock reaches `at` (or now + after_seconds).

        The move is applied lazily, on the first read or write after that time, with updated_at
        (and hired_at) set to the scheduled time. Returns that time.
        """
        if (at is None) == (after_seconds is None):
            raise ValueError("give exactly one of at and after_seconds")
        with self._locked():
            app = self._application(application_id)
            stage_id = self._pick_stage(self._job(app.job_id), stage)
            when = utc(at) if at is not None else self.clock.now()
            if after_seconds is not None:
                when = utc(when + timedelta(seconds=after_seconds))
            self._move_count += 1
            heapq.heappush(
                self._moves, ScheduledMove(when, self._move_count, application_id, stage_id)
            )
            return when

    def delete_application(self, application_id: str) -> None:
        """Remove an application, its comments and its pending moves: 404 everywhere after."""
        with self._locked():
            app = self._application(application_id)
            del self._applications[app.id]
            for comment_id in self._comments_of.pop(app.id, []):
                del self._comments[comment_id]
            self._moves = [m for m in self._moves if m.application_id != app.id]
            heapq.heapify(self._moves)

    def add_comment(
        self, application_id: str, body_text: str, *, created_at: datetime | None = None
    ) -> str:
        """A comment on an application, as if posted earlier (not audited). Returns its id."""
        with self._locked():
            self._application(application_id)
            moment = utc(created_at) if created_at else self.clock.now()
            comment = Comment(self._ids.next("comment"), application_id, body_text, moment)
            self._comments[comment.id] = comment
            self._comments_of.setdefault(application_id, []).append(comment.id)
            return comment.id

    def set_edits_touch_updated_at(self, touch: bool) -> None:
        """Whether edits after the hire move the application's updated_at (see the docstring)."""
        self.edits_touch_updated_at = bool(touch)

    def set_start_on(
        self, application_id: str, start_on: DateLike, *, touch: bool | None = None
    ) -> None:
        """Set the application's own start_on.

        touch: move its updated_at to now (None: as edits_touch_updated_at says).
        """
        with self._locked():
            app = self._application(application_id)
            app.start_on = as_date(start_on)
            self._touch(app, touch)

    def edit_candidate(
        self,
        application_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        touch: bool | None = None,
    ) -> None:
        """Change the application's copy of the candidate's name and email (None: unchanged)."""
        changes = _texts({"first_name": first_name, "last_name": last_name, "email": email})
        with self._locked():
            app = self._application(application_id)
            for name, value in changes.items():
                setattr(app, name, value)
            if email is not None:
                self.people.reserve(email)
            self._touch(app, touch)

    def edit_job(
        self,
        job_id: str,
        *,
        title: str | None = None,
        location: str | None = None,
        department: str | None = None,
        touch: bool | None = None,
    ) -> list[str]:
        """Change a job's title, location or department (by name; a new name is a new one).

        Applications can't move to another job, but they share theirs: the edit is seen by
        every application of the job, whose updated_at moves as `touch` says (None: as
        edits_touch_updated_at says). The job's own updated_at moves. Returns their ids.
        """
        _texts({"title": title, "location": location, "department": department})
        with self._locked():
            job = self._job(job_id)
            if title is not None:
                job.title = title
            if location is not None:
                job.location_id = self._named(self._locations, Location, "location", location).id
            if department is not None:
                unit = self._named(self._departments, Department, "department", department)
                job.department_id = unit.id
            job.updated_at = utc(self.clock.now())
            apps = [a for a in self._applications.values() if a.job_id == job.id]
            for app in apps:
                self._touch(app, touch)
            return [a.id for a in apps]

    def add_offer(
        self,
        application_id: str,
        start_on: DateLike = None,
        status: str = "pending",
        *,
        touch: bool | None = None,
    ) -> str:
        """Add an offer to an application. Returns the offer id.

        touch: move the application's updated_at to now (None: as edits_touch_updated_at says).
        """
        day, status = _offer_spec({"start_on": start_on, "status": status})
        with self._locked():
            app = self._application(application_id)
            offer = Offer(self._ids.next("offer"), day, status)
            app.offers.append(offer)
            self._touch(app, touch)
            return offer.id

    def update_offer(
        self,
        offer_id: str,
        *,
        status: str | None = None,
        start_on: DateLike = None,
        touch: bool | None = None,
    ) -> None:
        """Change an offer's status and/or start_on (None: unchanged).

        touch: move the application's updated_at to now (None: as edits_touch_updated_at says).
        """
        if status is not None and status not in OFFER_STATUSES:
            raise ValueError(f"an offer's status is one of {', '.join(OFFER_STATUSES)}")
        with self._locked():
            app, offer = next(
                ((a, o) for a in self._applications.values() for o in a.offers if o.id == offer_id),
                (None, None),
            )
            if app is None or offer is None:
                raise KeyError(f"no offer {offer_id!r}")
            if status is not None:
                offer.status = status
            if start_on is not None:
                offer.start_on = as_date(start_on)
            self._touch(app, touch)


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    """The values given (not None), each checked to be non-blank text; at least one."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        raise ValueError(f"give at least one of {', '.join(values)}")
    for name, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be non-blank text")
    return given


def _offer_spec(spec: Mapping[str, Any]) -> tuple[date | None, str]:
    unknown = set(spec) - {"start_on", "status"}
    if unknown:
        raise ValueError(f"an offer has start_on and status, not {', '.join(sorted(unknown))}")
    status = spec.get("status", "accepted")
    if status not in OFFER_STATUSES:
        raise ValueError(f"an offer's status is one of {', '.join(OFFER_STATUSES)}")
    return as_date(spec.get("start_on")), str(status)
