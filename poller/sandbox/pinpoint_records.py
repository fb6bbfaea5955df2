"""Pinpoint's records and their lock: what the state (pinpoint_state.py) changes and the HTTP
side (pinpoint.py) reads. Scheduled moves are applied lazily: every read or write first applies
those whose time the simulator clock has passed.
"""

from __future__ import annotations

import copy
import heapq
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .clock import SimClock, utc
from .data import Ids, People
from .files import DOCX_TYPE, PDF_TYPE, docx_bytes, pdf_bytes
from .records import (
    Application,
    Attachment,
    Comment,
    Department,
    Job,
    Location,
    ScheduledMove,
    Stage,
)

CV_KINDS = {"pdf": ("pdf_cv",), "docx": ("cv",), "both": ("cv", "pdf_cv")}


class PinpointRecords:
    """The records, thread-safe, with snapshots (deep copies) for tests and lookups."""

    def __init__(self, seed: int, clock: SimClock) -> None:
        self.seed = seed
        self.clock = clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"{seed}:pinpoint")
        self.people = People(random.Random(f"{seed}:people"))
        self._ids = Ids()
        self._locations: dict[str, Location] = {}
        self._departments: dict[str, Department] = {}
        self._jobs: dict[str, Job] = {}
        self._stages: dict[str, Stage] = {}
        self._applications: dict[str, Application] = {}
        self._comments: dict[str, Comment] = {}
        self._comments_of: dict[str, list[str]] = {}  # application id -> comment ids, in order
        self._files: dict[str, Attachment] = {}  # by token, for the signed file links
        self._moves: list[ScheduledMove] = []  # a heap, soonest first
        self._move_count = 0
        # Whether an edit after the hire (candidate, offer, start_on, job) moves the
        # application's updated_at: [unknown] upstream (pinpoint.md "After the hire").
        self.edits_touch_updated_at = True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The lock, with every scheduled move that is due applied first."""
        with self._lock:
            now = self.clock.now()
            while self._moves and self._moves[0].at <= now:
                move = heapq.heappop(self._moves)
                app = self._applications.get(move.application_id)
                if app is not None:  # deleted meanwhile: the move is dropped
                    self._move(app, move.stage_id, move.at)
            yield

    # -- snapshots (deep copies: callers can't change the simulator's state by accident) --

    @property
    def jobs(self) -> dict[str, Job]:
        with self._locked():
            return copy.deepcopy(self._jobs)

    @property
    def stages(self) -> dict[str, Stage]:
        with self._locked():
            return copy.deepcopy(self._stages)

    @property
    def locations(self) -> dict[str, Location]:
        with self._locked():
            return copy.deepcopy(self._locations)

    @property
    def departments(self) -> dict[str, Department]:
        with self._locked():
            return copy.deepcopy(self._departments)

    @property
    def applications(self) -> dict[str, Application]:
        with self._locked():
            return copy.deepcopy(self._applications)

    @property
    def comments(self) -> dict[str, Comment]:
        with self._locked():
            return copy.deepcopy(self._comments)

    @property
    def scheduled_moves(self) -> list[ScheduledMove]:
        """Moves not applied yet, soonest first."""
        with self._locked():
            return sorted(copy.deepcopy(self._moves))

    def hired_application_ids(self) -> list[str]:
        """Applications in their job's hired stage, confidential jobs included."""
        with self._locked():
            return [a.id for a in self._applications.values() if self._stages[a.stage_id].hired]

    def hired_stage_id(self, job_id: str) -> str:
        with self._locked():
            return next(s for s in self._job(job_id).stage_ids if self._stages[s].hired)

    # -- shaping the world --

    # -- internals (call with the lock held) --

    def _move(self, app: Application, stage_id: str, when: datetime) -> None:
        was_hired = self._stages[app.stage_id].hired
        app.stage_id = stage_id
        app.updated_at = when
        if not self._stages[stage_id].hired:
            app.hired_at = None
        elif not was_hired or app.hired_at is None:
            app.hired_at = when

    def _touch(self, app: Application, touch: bool | None) -> None:
        """After an edit: move updated_at to now if `touch` (None: edits_touch_updated_at)."""
        if self.edits_touch_updated_at if touch is None else touch:
            app.updated_at = utc(self.clock.now())

    def _named(
        self,
        table: dict[str, Any],
        kind: type[Location] | type[Department],
        id_kind: str,
        name: str,
    ) -> Any:
        found = next((row for row in table.values() if row.name == name), None)
        if found is None:
            found = kind(self._ids.next(id_kind), name)
            table[found.id] = found
        return found

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
