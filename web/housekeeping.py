"""What the web app cleans up on its own, every HOUSEKEEPING_INTERVAL: expired sessions, spent rate-limit
windows and old login failures, quarantined intake bodies past their retention.

Every replica runs it; the deletes are idempotent, so two replicas at once only do the work twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from db import counters
from db.base import utcnow
from starter.intake.retention import prune_quarantine
from starter.services.context import Services
from web.security import sessions as web_sessions
from web.security.throttle import FORGET_AFTER

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 15 * 60


async def housekeep(services: Services) -> None:
    now = utcnow()
    settings = services.settings
    ended = await web_sessions.prune_sessions(
        services.sessions, web_sessions.Lifetimes.from_settings(settings), now=now
    )
    async with services.sessions.begin() as session:
        await counters.prune(session, now_epoch=int(time.time()), failures_before=now - FORGET_AFTER)
    pruned = await prune_quarantine(
        services.sessions, now=now, retention=timedelta(days=settings.quarantine_retention_days)
    )
    if ended or pruned:
        log.info("housekeeping: %s expired sessions, %s quarantined payloads removed", ended, pruned)


async def run_housekeeping(services: Services) -> None:
    while True:
        # First round after one interval: a restart loop must not turn into a delete loop.
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS)
        try:
            await housekeep(services)
        except Exception:  # the database may be away for a while; try again next round
            log.warning("housekeeping failed; next try in %s s", HOUSEKEEPING_INTERVAL_SECONDS, exc_info=True)
