"""Failed logins slow a guesser down without locking the real user out.

Counted per (account, client) and per client, in the database (every web replica sees the same counts):
the first few failures are free (typos), then each further one doubles the wait before the next try, up to
MAX_DELAY. A guesser elsewhere on the internet only slows down their own (account, client) pair, so the
owner logging in from their own address is never made to wait for someone else's failures. The client
count catches one client trying a few passwords against many accounts. Which address is "the client"
is decided by IMMOFLOW_TRUSTED_PROXIES (see web.app): behind a proxy, the forwarded address.

A success forgives the (account, client) pair. Entries are forgotten FORGET_AFTER the last failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from db import counters
from db.base import utcnow
from db.models import LoginFailure
from db.session import SessionFactory

FREE_PER_ACCOUNT = 3  # typos of the owner cost nothing
FREE_PER_CLIENT = 20  # a shared office NAT logs in many people; spraying many accounts costs
BASE_DELAY_SECONDS = 2.0  # the first counted failure waits this long; each further one doubles it
MAX_DELAY_SECONDS = 15 * 60  # a guesser gets about four tries an hour per (account, client)
FORGET_AFTER = timedelta(hours=24)


def delay_after(failures: int, free: int) -> float:
    """Seconds to wait after FAILURES consecutive failures, when the first FREE cost nothing."""
    if failures < free:
        return 0.0
    return float(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2.0 ** min(failures - free, 20)))


def _keys(address: str, client: str) -> list[tuple[str, int]]:
    return [(f"account:{client}:{address}"[:400], FREE_PER_ACCOUNT), (f"client:{client}"[:400], FREE_PER_CLIENT)]


@dataclass
class LoginThrottle:
    sessions: SessionFactory
    clock: Callable[[], datetime] = field(default=utcnow)

    async def retry_after(self, address: str, client: str) -> int:
        """Seconds until ADDRESS may try again from CLIENT; 0 when a try is allowed now."""
        keys = dict(_keys(address, client))
        async with self.sessions() as session:
            rows = list(await session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys))))
        now = self.clock()
        waits = [0.0]
        for row in rows:
            if now - row.last_failed_at >= FORGET_AFTER:
                continue
            ready = row.last_failed_at + timedelta(seconds=delay_after(row.failures, keys[row.key]))
            waits.append((ready - now).total_seconds())
        wait = max(waits)
        return max(1, math.ceil(wait)) if wait > 0 else 0

    async def failed(self, address: str, client: str) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            for key, _ in _keys(address, client):
                await counters.record_failure(session, key, now)

    async def succeeded(self, address: str, client: str) -> None:
        # The owner got in from here: their typos no longer count. The client's count across accounts stays.
        key = _keys(address, client)[0][0]
        async with self.sessions.begin() as session:
            await session.execute(delete(LoginFailure).where(LoginFailure.key == key))
