"""Telling the people who act: the events of a cycle, delivered after its work, at least once.

Events (``notify.events``: failed, unhired, changed, and done on request) are written to the
store in the commit of what caused them. After the cycle's work, each target gets at most one
message listing what it hasn't taken yet: who, which application, what happened in plain
words, what to do (the ``poller`` command or config key), and a link to the status page's row
when ``web.public_url`` is set. A target's cursor moves only once it took the message: a
target that is down gets its events in a later cycle, and a kill between sending and
recording repeats that message, never loses one. A lease per target keeps two replicas from
sending the same events. Every message goes through the redaction the logs use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

import structlog

from poller import metrics
from poller.crashpoints import crashpoint
from poller.models import Notice
from poller.redact import redact
from poller.store.ledger import Ledger
from poller.upstream.notify import Sender, Target

log = structlog.get_logger("poller.notify")

MAX_LISTED = 20  # events named one by one in a message; the rest are counted
NEW_TARGET_LOOKBACK = timedelta(days=1)  # what a target added now still hears of
RETENTION = timedelta(days=30)  # events older than this are pruned

_WORDS = {
    "failed": ("failed", "need a person"),
    "unhired": ("un-hired", "no longer hired"),
    "changed": ("changed", "changed after the hire"),
    "done": ("done", "in HiBob"),
}


def _what(n: Notice) -> str:
    summary = n.summary or ""
    if n.event == "failed":
        return f"failed: {summary}"
    if n.event == "unhired":
        return (
            f"no longer in a hired stage in Pinpoint ({summary}); its HiBob employee was left "
            "as it is"
        )
    if n.event == "changed":
        return f"changed in Pinpoint after the hire: {summary}"
    return f"done: {summary}"


def _todo(n: Notice) -> str | None:
    app = n.application_id
    if n.event == "failed":
        return (
            f"fix what the error names, then `poller retry {app}`; or, once it is done by hand, "
            f'`poller resolve {app} --note "..."`'
        )
    if n.event == "unhired":
        return (
            f"decide in HiBob (a reversed hire may need terminating there), then `poller ack {app}`"
        )
    if n.event == "changed":
        return f"change it in HiBob by hand if it should change, then `poller ack {app}`"
    return None


def compose(notices: Sequence[Notice], *, public_url: str = "") -> tuple[str, str]:
    """A message's title and plain-text body, redacted as log lines are."""
    counts = Counter(n.event for n in notices)
    parts = [f"{counts[e]} {_WORDS[e][1]}" for e in _WORDS if counts[e]]
    title = f"Pinpoint to HiBob poller: {', '.join(parts)}"
    lines: list[str] = []
    for n in notices[:MAX_LISTED]:
        who = (
            f"{n.candidate_name} (application {n.application_id})"
            if n.candidate_name
            else f"Application {n.application_id}"
        )
        lines.append(f"- {who} {_what(n)}")
        todo = _todo(n)
        if todo:
            lines.append(f"  To do: {todo}")
        if public_url:
            lines.append(f"  {public_url}/applications/{quote(n.application_id, safe='')}")
    more = len(notices) - MAX_LISTED
    if more > 0:
        lines.append(
            f"... and {more} more: `poller list --state failed`, `--state unhired` and "
            "`--state changed` list them"
        )
    return redact(title), redact("\n".join(lines))


class Notifier:
    def __init__(
        self,
        ledger: Ledger,
        targets: list[Target],
        *,
        worker: str,
        clock: Callable[[], datetime],
        public_url: str = "",
        lease_seconds: float = 300,
        sender: Sender | None = None,
    ) -> None:
        self.ledger = ledger
        self.targets = targets
        self.worker = worker
        self.clock = clock
        self.public_url = public_url
        self.lease_seconds = lease_seconds  # a killed process's hold on a target runs out
        self.sender = sender or Sender()

    def deliver(self) -> dict[str, int]:
        """One message per target with what it hasn't taken yet; outcomes by kind."""
        outcomes: dict[str, int] = {}
        if not self.targets:
            return outcomes
        now = self.clock()
        self.ledger.prune_notices(before=now - RETENTION)
        for target in self.targets:
            lease = f"notify_lease:{target.key}"
            if not self.ledger.claim_lease(lease, self.worker, now=now, seconds=self.lease_seconds):
                continue  # another replica is sending to it now
            try:
                outcome = self._deliver_to(target, now)
            finally:
                self.ledger.release_lease(lease, self.worker, now=self.clock())
            if outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def _deliver_to(self, target: Target, now: datetime) -> str | None:
        key = f"notify_cursor:{target.key}"
        stored = self.ledger.get_state().get(key)
        if stored is not None and stored.isdigit():
            cursor = int(stored)
        else:  # a target added now: what happened in the last day, not all history
            cursor = self.ledger.last_notice_id(before=now - NEW_TARGET_LOOKBACK)
            self.ledger.set_state({key: str(cursor)}, now=now)
        notices = self.ledger.notices_after(cursor)
        if not notices:
            return None
        title, body = compose(notices, public_url=self.public_url)
        sent = self.sender.send(target, title, body)
        crashpoint("after:notify_send")
        metrics.notifications_total.labels(outcome="sent" if sent else "failed").inc()
        if not sent:
            log.warning("notify.not_taken", target=target.label, waiting=len(notices))
            return "failed"
        self.ledger.set_state({key: str(notices[-1].id)}, now=self.clock())
        log.info("notify.sent", target=target.label, events=len(notices))
        return "sent"
