"""The tasks inbox ("Aufgaben"): reading a user's tasks in the order they need doing, done / reopen / reassign.

Tasks are written by workflows and automations (db.crm.create_task_once) and by agents on a lead's
page; this module only reads and updates them. An agent acts on their own tasks, an admin on all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contact, Task, User
from starter.services.context import Services

# Tasks of the time-slot feature carry their request in the idempotency key (slots:<id>:response:task).
_SLOT_KEY = re.compile(r"^slots:(\d+):")
PAGE_LIMIT = 500


class TaskError(Exception):
    status = 422


class TaskNotFoundError(TaskError):
    status = 404


@dataclass(frozen=True)
class TaskRow:
    task: Task
    assignee: User | None
    contact: Contact | None
    slot_request_id: int | None
    overdue: bool


def slot_request_of(task: Task) -> int | None:
    match = _SLOT_KEY.match(task.idempotency_key or "")
    return int(match.group(1)) if match else None


async def open_count(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Task).where(Task.assignee_user_id == user_id, Task.done.is_(False))
    )
    return count or 0


async def inbox(session: AsyncSession, *, assignee: int | str | None, done: bool, now: datetime) -> list[TaskRow]:
    """ASSIGNEE: a user id, "unassigned" (no assignee) or "all". Open: overdue first, then by due date
    (undated last), then oldest first; done: most recently done first."""
    query = _with_people().where(Task.done.is_(done))
    if assignee == "unassigned":
        query = query.where(Task.assignee_user_id.is_(None))
    elif isinstance(assignee, int):
        query = query.where(Task.assignee_user_id == assignee)
    if done:
        query = query.order_by(Task.done_at.desc().nulls_last(), Task.id.desc())
    else:
        overdue_first = case((Task.due_at < now, 0), else_=1)
        undated_last = case((Task.due_at.is_(None), 1), else_=0)
        query = query.order_by(overdue_first, undated_last, Task.due_at, Task.created_at, Task.id)
    rows = (await session.execute(query.limit(PAGE_LIMIT))).all()
    return [_row(task, user, contact, now) for task, user, contact in rows]


async def task_row(session: AsyncSession, task_id: int, now: datetime) -> TaskRow | None:
    found = (await session.execute(_with_people().where(Task.id == task_id))).first()
    if found is None:
        return None
    task, user, contact = found
    return _row(task, user, contact, now)


def _with_people() -> Select[Task, User, Contact]:  # User and Contact are None when missing (outer joins)
    query = select(Task, User, Contact).outerjoin(User, User.id == Task.assignee_user_id)
    return query.outerjoin(Contact, Contact.id == Task.contact_id)


def _row(task: Task, user: User | None, contact: Contact | None, now: datetime) -> TaskRow:
    return TaskRow(
        task=task,
        assignee=user,
        contact=contact,
        slot_request_id=slot_request_of(task),
        overdue=not task.done and task.due_at is not None and task.due_at < now,
    )


async def _task_for(session: AsyncSession, task_id: int, acting_user_id: int | None, is_admin: bool) -> Task:
    task = await session.get(Task, task_id)
    # Someone else's task looks like no task: agents see only their own inbox.
    if task is None or not (is_admin or task.assignee_user_id == acting_user_id):
        raise TaskNotFoundError(f"Aufgabe {task_id} gibt es nicht (oder sie gehört jemand anderem).")
    return task


async def mark_done(
    session: AsyncSession, task_id: int, *, acting_user_id: int | None, is_admin: bool, now: datetime
) -> Task:
    task = await _task_for(session, task_id, acting_user_id, is_admin)
    if not task.done:
        task.done, task.done_at, task.done_by_user_id = True, now, acting_user_id
    return task


async def reopen(session: AsyncSession, task_id: int, *, acting_user_id: int | None, is_admin: bool) -> Task:
    task = await _task_for(session, task_id, acting_user_id, is_admin)
    task.done, task.done_at, task.done_by_user_id = False, None, None
    return task


async def reassign(
    session: AsyncSession, task_id: int, assignee_user_id: int, *, acting_user_id: int | None, is_admin: bool
) -> tuple[Task, User]:
    task = await _task_for(session, task_id, acting_user_id, is_admin)
    user = await session.get(User, assignee_user_id)
    if user is None or not user.is_active:
        raise TaskError("Diesen Benutzer gibt es nicht (mehr); bitte einen aktiven auswählen.")
    task.assignee_user_id = user.id
    return task, user


# --- use cases for the web app (each opens its own transaction) ------------------------------------------


async def list_inbox(services: Services, *, assignee: int | str | None, done: bool, now: datetime) -> list[TaskRow]:
    """The inbox of ASSIGNEE (a user id, "unassigned" or "all"), open or done, in the order of `inbox`."""
    async with services.sessions() as session:
        return await inbox(session, assignee=assignee, done=done, now=now)


async def load_task(services: Services, task_id: int, now: datetime) -> TaskRow:
    """One task with its people; TaskNotFoundError when there is none."""
    async with services.sessions() as session:
        row = await task_row(session, task_id, now)
    if row is None:
        raise TaskNotFoundError(f"Aufgabe {task_id} gibt es nicht.")
    return row


async def finish_task(
    services: Services, task_id: int, *, acting_user_id: int | None, is_admin: bool, now: datetime
) -> Task:
    """Mark a task done (by the acting user, at NOW); done already stays done as it was."""
    async with services.sessions.begin() as session:
        return await mark_done(session, task_id, acting_user_id=acting_user_id, is_admin=is_admin, now=now)


async def reopen_task(services: Services, task_id: int, *, acting_user_id: int | None, is_admin: bool) -> Task:
    """Open a done task again."""
    async with services.sessions.begin() as session:
        return await reopen(session, task_id, acting_user_id=acting_user_id, is_admin=is_admin)


async def pass_task(
    services: Services, task_id: int, assignee_user_id: int, *, acting_user_id: int | None, is_admin: bool
) -> tuple[Task, User]:
    """Hand a task to another (active) user; returns the task and its new assignee."""
    async with services.sessions.begin() as session:
        return await reassign(session, task_id, assignee_user_id, acting_user_id=acting_user_id, is_admin=is_admin)
