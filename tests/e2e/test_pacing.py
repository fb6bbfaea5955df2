"""Client-side pacing keys come from the endpoint names the clients use.

A regression once keyed the HiBob document pacers by the folder's URL ("POST
/docs/people/{id}/shared") while the client paced by its template ("POST
/docs/people/{id}/{folder}"), so hibob.documents_per_minute paced nothing but the listing.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.e2e.harness import make_poller

PER_MINUTE = 120  # one upload every 0.5 s
UPLOADS = {"url": "/docs/people/{id}/shared", "upload": "/docs/people/{id}/shared/upload"}


@pytest.mark.parametrize("mode", ["url", "upload"])
def test_documents_per_minute_paces_cv_uploads(tmp_path: Path, mode: str) -> None:
    with Sandbox(seed=9, hires=0) as sb:
        for i in range(4):
            sb.pinpoint.add_hire("Pat", f"Doe{i}", f"pat{i}@example.com", cv="pdf")
        extra = {"hibob": {"documents_per_minute": PER_MINUTE}, "cv": {"mode": mode}}
        p = make_poller(tmp_path, sb, f"sqlite:///{tmp_path}/p.db", extra)
        try:
            p.settle()
        finally:
            p.close()
        uploads = sorted(
            datetime.fromisoformat(e.time)
            for e in sb.audit().entries
            if e.method == "POST" and e.route == UPLOADS[mode]
        )
    assert len(uploads) == 4  # four workers, one upload each, all at once unless paced
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(uploads)]
    assert min(gaps) >= 60 / PER_MINUTE * 0.9, gaps
