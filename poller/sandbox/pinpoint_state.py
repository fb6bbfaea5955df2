"""Pinpoint's state: jobs, stages, locations, applications, comments. Thread-safe.

The Python API the tests and the demo use to shape the world lives here; pinpoint.py serves it.
"""

from __future__ import annotations

import copy
import random
import threading
from datetime import UTC, date, datetime, timedelta

from .clock import SimClock
from .data import LONDON, STANDARD_STAGES, Ids, People
from .files import DOCX_TYPE, PDF_TYPE, docx_bytes, pdf_bytes
from .records import Application, Attachment, Comment, Job, Location, Offer, Stage

VISIBILITIES = ("external", "internal", "private_job", "confidential")
CV_KINDS = {"pdf": ("pdf_cv",), "docx": ("cv",), "both": ("cv", "pdf_cv")}


class PinpointState:
    def __init__(self, seed: int, clock: SimClock) -> None:
        self.seed = seed
        self.clock = clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"{seed}:pinpoint")
        self.people = People(random.Random(f"{seed}:people"))
        self._ids = Ids()
        self._locations: dict[str, Location] = {}
        self._jobs: dict[str, Job] = {}
        self._stages: dict[str, Stage] = {}
        self._applications: dict[str, Application] = {}
        self._comments: dict[str, Comment] = {}
        self._files: dict[str, Attachment] = {}  # by token, for the signed file links

    # -- snapshots (deep copies: callers can't change the simulator's state by accident) --

    @property
    def jobs(self) -> dict[str, Job]:
        with self._lock:
            return copy.deepcopy(self._jobs)

    @property
    def stages(self) -> dict[str, Stage]:
        with self._lock:
            return copy.deepcopy(self._stages)

    @property
    def locations(self) -> dict[str, Location]:
        with self._lock:
            return copy.deepcopy(self._locations)

    @property
    def applications(self) -> dict[str, Application]:
        with self._lock:
            return copy.deepcopy(self._applications)

    @property
    def comments(self) -> dict[str, Comment]:
        with self._lock:
            return copy.deepcopy(self._comments)

    def hired_application_ids(self) -> list[str]:
        """Applications in their job's hired stage, confidential jobs included."""
        with self._lock:
            return [a.id for a in self._applications.values() if self._stages[a.stage_id].hired]

    def hired_stage_id(self, job_id: str) -> str:
        with self._lock:
            return next(s for s in self._job(job_id).stage_ids if self._stages[s].hired)

    # -- shaping the world --

    def add_job(
        self,
        title: str,
        department: str = "Engineering",
        location: str = LONDON,
        visibility: str = "external",
        hired_stage_name: str = "Hired",
        *,
        updated_at: datetime | None = None,
    ) -> str:
        """A job with the standard workflow, ending in `hired_stage_name`. Returns its id."""
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        with self._lock:
            now = _utc(updated_at or self.clock.now())
            place = next((loc for loc in self._locations.values() if loc.name == location), None)
            if place is None:
                place = Location(self._ids.next("location"), location)
                self._locations[place.id] = place
            opened = now - timedelta(days=90)  # jobs predate their applications
            job = Job(
                self._ids.next("job"), title, department, place.id, visibility, [], opened, now
            )
            for name in (*STANDARD_STAGES, hired_stage_name):
                stage = Stage(self._ids.next("stage"), name, job.id, hired=name == hired_stage_name)
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
        start_date: date | None = None,
        phone: str | None = None,
        anonymised: bool = False,
    ) -> str:
        """Add an application; by default a hire. Returns the application id.

        job: a job id or title; default the first (non-)confidential job, per `confidential`.
        cv: True or "pdf" (a pdf_cv), "docx" (a cv), "both", or False/None (no CV).
        stage: "hired" (the job's hired stage, whatever its name), or a stage name or id.
        start_date: adds an offer with that start date.
        anonymised: hide the candidate (no email or phone; names "Candidate" and the id).
        """
        kinds = CV_KINDS["pdf" if cv is True else cv] if cv else ()
        with self._lock:
            the_job = self._pick_job(job, confidential)
            stage_id = self._pick_stage(the_job, stage)
            when = _utc(updated_at or self.clock.now())
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
            )
            app.attachments = [self._attachment(kind, first, last) for kind in kinds]
            if start_date is not None:
                app.offers.append(Offer(self._ids.next("offer"), start_date))
            self._applications[app_id] = app
            return app_id

    def seed_hires(self, count: int, confidential: bool = False) -> list[str]:
        """`count` more hires with seeded names, spread over the (non-)confidential jobs."""
        with self._lock:
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
        """Move an application to a stage ("hired", a name or an id), touching updated_at."""
        with self._lock:
            app = self._application(application_id)
            app.stage_id = self._pick_stage(self._job(app.job_id), stage)
            app.updated_at = _utc(updated_at or self.clock.now())

    # -- internals (call with the lock held) --

    def _job(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise KeyError(f"no job {job_id!r}") from None

    def _application(self, application_id: str) -> Application:
        try:
            return self._applications[application_id]
        except KeyError:
            raise KeyError(f"no application {application_id!r}") from None

    def _pick_job(self, job: str | None, confidential: bool) -> Job:
        if job is None:
            return next(
                j for j in self._jobs.values() if (j.visibility == "confidential") == confidential
            )
        found = self._jobs.get(job) or next(
            (j for j in self._jobs.values() if j.title == job), None
        )
        if found is None:
            raise KeyError(f"no job with id or title {job!r}")
        return found

    def _pick_stage(self, job: Job, stage: str) -> str:
        for stage_id in job.stage_ids:
            candidate = self._stages[stage_id]
            if (
                (stage.casefold() == "hired" and candidate.hired)
                or stage in (candidate.id, candidate.name)
                or stage.casefold() == candidate.name.casefold()
            ):
                return stage_id
        raise KeyError(f"job {job.id} has no stage {stage!r}")

    def _attachment(self, context: str, first: str, last: str) -> Attachment:
        stem = f"{first}_{last}".lower().replace(" ", "_")
        text = f"Curriculum Vitae - {first} {last}"
        token = f"{self._rng.getrandbits(128):032x}"
        if context == "pdf_cv":
            attachment = Attachment(context, f"{stem}.pdf", PDF_TYPE, pdf_bytes(text), token)
        else:
            attachment = Attachment(context, f"{stem}.docx", DOCX_TYPE, docx_bytes(text), token)
        self._files[token] = attachment
        return attachment


def _utc(moment: datetime) -> datetime:
    """Whole seconds in UTC; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)
