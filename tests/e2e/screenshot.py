"""Screenshots of the status page for the docs, taken by headless Chromium over real HTTP.

    python -m tests.e2e.screenshot [DIR]        # default: docs/

The table is filled like `poller demo` fills it: the simulators, seeded hires, real cycles. To
give the chart a month's shape, each cycle runs with the poller's clock set to a past day (the
simulators keep real time), and a few new hires arrive before each. Then, with a settle window,
a mis-click is dragged back before it is due (withdrawn) and a processed hire is rejected
(its un-hire flag goes up).
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from poller.models import utcnow
from poller.sandbox import Sandbox
from tests.e2e.browser import chromium, missing
from tests.e2e.harness import make_poller
from tests.e2e.webserver import web_server

FIRST = ["Maya", "Tom", "Priya", "Jonas", "Aiko", "Liam", "Sofia", "Kwame", "Elena", "Omar"]
LAST = ["Okafor", "Schmidt", "Rossi", "Nakamura", "Silva", "Kowalski", "Haddad", "Berg"]


def fill(home: Path, sb: Sandbox) -> Path:
    poller = make_poller(home, sb, f"sqlite:///{home}/demo.db", {"web": {"page_size": 12}})
    rng = random.Random(7)
    today = utcnow().replace(hour=11, minute=0, second=0, microsecond=0)
    try:
        for days_ago in range(27, -1, -1):
            if days_ago < 27:
                for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                    first, last = rng.choice(FIRST), rng.choice(LAST)
                    email = f"{first}.{last}.{rng.randrange(10**6)}@example.com".lower()
                    sb.pinpoint.add_hire(first, last, email, cv=rng.choice(["pdf", "docx", False]))
            when = today - timedelta(days=days_ago, minutes=rng.randrange(300))
            poller.svc.clock = lambda when=when: when  # type: ignore[misc]
            poller.run()
        rejected = next(r.application_id for r in poller.ledger.rows(state="done"))
    finally:
        poller.close()
    (home / "today").mkdir()
    extra = {"discovery": {"settle_minutes": 10, "full_reconcile_hours": 0.1}}
    today = make_poller(home / "today", sb, f"sqlite:///{home}/demo.db", extra)
    today.svc.clock = sb.clock.now
    try:
        misclick = sb.pinpoint.add_hire("Mia", "Clicksworth", "mia.clicksworth@example.com")
        today.run()  # the mis-click is settling
        sb.pinpoint.move_application(misclick, "Interview")
        sb.pinpoint.move_application(rejected, "Rejected")
        sb.clock.advance(11 * 60)
        today.run()  # past the window: withdrawn; a full listing: the rejected hire flagged
    finally:
        today.close()
    return home / "config.toml"


def main(out_dir: Path) -> int:
    gaps = missing()
    if gaps:
        print(f"screenshot: needs {', '.join(gaps)}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="poller-shot-") as tmp, Sandbox(seed=7, hires=8) as sb:
        config = fill(Path(tmp), sb)
        with web_server(config) as web, chromium(width=1180, height=860) as driver:
            driver.get(web.url + "/")
            driver.save_screenshot(str(out_dir / "status-page.png"))
            driver.set_window_size(1440, 760)
            driver.get(web.url + "/applications")
            driver.save_screenshot(str(out_dir / "status-page-applications.png"))
    print(f"wrote {out_dir / 'status-page.png'} and {out_dir / 'status-page-applications.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
