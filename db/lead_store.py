"""What holds a lead back from being overdue: its tasks and appointments, read for one lead or a whole list."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Appointment, Task
from domain import lead_schedule as schedule


async def hold_until(session: AsyncSession, lead_id: int) -> datetime | None:
    """The latest instant the lead's tasks and future appointments hold it (see workflows/lead.py)."""
    return (await holds_until(session, [lead_id]))[lead_id]


async def holds_until(session: AsyncSession, lead_ids: Collection[int]) -> dict[int, datetime | None]:
    """hold_until for many leads in two queries, not two per lead (the office's lead list)."""
    holds: dict[int, datetime | None] = dict.fromkeys(lead_ids)
    if not holds:
        return holds

    def extend(lead_id: int | None, instant: datetime | None) -> None:
        assert lead_id is not None  # selected by lead_id IN (…)
        holds[lead_id] = schedule.later(holds[lead_id], instant)

    for lead_id, created_at, due_at in await session.execute(
        select(Task.lead_id, Task.created_at, Task.due_at).where(Task.lead_id.in_(holds))
    ):
        extend(lead_id, schedule.task_hold(created_at, due_at))
    for lead_id, starts_at, ends_at, created_at in await session.execute(
        select(Appointment.lead_id, Appointment.starts_at, Appointment.ends_at, Appointment.created_at).where(
            Appointment.lead_id.in_(holds)
        )
    ):
        extend(lead_id, schedule.appointment_hold(starts_at, ends_at, created_at))
    return holds
