"""Everything the flow talks to, built once per process by ``poller.loop.wiring``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from poller.config import Settings
from poller.models import utcnow
from poller.store.ledger import Ledger
from poller.upstream.cv_download import CVDownloader
from poller.upstream.hibob import HibobClient
from poller.upstream.hibob_lists import HibobLists
from poller.upstream.pinpoint import PinpointClient


@dataclass
class Services:
    """The clients, the ledger and the settings; a clock, a sleep and an RNG tests replace."""

    settings: Settings
    ledger: Ledger
    pinpoint: PinpointClient
    hibob: HibobClient
    cv_downloader: CVDownloader
    lists: HibobLists
    # The events the people who act are told of (notify.events), or none when no target is set.
    notify: frozenset[str] = frozenset()
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
