"""Counters shared by every web replica: one atomic upsert per hit (PostgreSQL and SQLite both have
INSERT … ON CONFLICT DO UPDATE … RETURNING), so two replicas counting the same key never lose a hit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import LoginFailure, RateCounter


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def hit(session: AsyncSession, key: str, window_start: int, expires: int) -> int:
    """Count one request of KEY in the window starting at WINDOW_START; returns the window's count so far."""
    statement = _insert(session, RateCounter).values(key=key, window_start=window_start, count=1, expires=expires)
    statement = statement.on_conflict_do_update(
        index_elements=[RateCounter.key, RateCounter.window_start], set_={"count": RateCounter.count + 1}
    ).returning(RateCounter.count)
    return int((await session.execute(statement)).scalar_one())


async def record_failure(session: AsyncSession, key: str, now: datetime) -> int:
    """One more failed login for KEY at NOW; returns the consecutive failures counted."""
    statement = _insert(session, LoginFailure).values(key=key, failures=1, last_failed_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[LoginFailure.key],
        set_={"failures": LoginFailure.failures + 1, "last_failed_at": statement.excluded.last_failed_at},
    ).returning(LoginFailure.failures)
    return int((await session.execute(statement)).scalar_one())


async def prune(session: AsyncSession, *, now_epoch: int, failures_before: datetime) -> None:
    await session.execute(delete(RateCounter).where(RateCounter.expires < now_epoch))
    await session.execute(delete(LoginFailure).where(LoginFailure.last_failed_at < failures_before))
