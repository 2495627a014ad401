"""/api/tasks: the tasks inbox for scripts and integrations, with the page's rules (agents: their own tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from db.base import utcnow
from starter.services import tasks as task_service
from starter.services.tasks import TaskError, TaskRow
from web.dependencies import ServicesDep
from web.security.roles import ViewerDep

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


class TaskOut(BaseModel):
    id: int
    title: str
    body: str | None
    assignee_user_id: int | None
    due_at: datetime | None
    overdue: bool
    done: bool
    done_at: datetime | None
    inquiry_id: int | None
    lead_id: int | None
    slot_request_id: int | None
    contact_id: int | None
    property_id: int | None
    created_at: datetime


class Assignment(BaseModel):
    assignee_user_id: int


def task_out(row: TaskRow) -> TaskOut:
    task = row.task
    return TaskOut(
        id=task.id,
        title=task.title,
        body=task.body,
        assignee_user_id=task.assignee_user_id,
        due_at=task.due_at,
        overdue=row.overdue,
        done=task.done,
        done_at=task.done_at,
        inquiry_id=task.inquiry_id,
        lead_id=task.lead_id,
        slot_request_id=row.slot_request_id,
        contact_id=task.contact_id,
        property_id=task.property_id,
        created_at=task.created_at,
    )


@router.get("", summary="Tasks in inbox order: open ones overdue first, then by due date")
async def list_tasks(
    services: ServicesDep,
    viewer: ViewerDep,
    status: Literal["open", "done"] = "open",
    assignee: Annotated[
        str | None, Query(description="Admins: a user id, `all` or `unassigned`; agents always get their own.")
    ] = None,
) -> list[TaskOut]:
    who: int | str | None = viewer.user_id
    if viewer.is_admin and assignee:
        if assignee in ("all", "unassigned"):
            who = assignee
        elif assignee.isdigit():
            who = int(assignee)
        else:
            raise HTTPException(422, "assignee: eine Benutzer-ID, all oder unassigned")
    elif viewer.user_id is None:
        who = "all"
    rows = await task_service.list_inbox(services, assignee=who, done=status == "done", now=utcnow())
    return [task_out(row) for row in rows]


async def _one(services: ServicesDep, task_id: int) -> TaskOut:
    try:
        return task_out(await task_service.load_task(services, task_id, utcnow()))
    except TaskError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


@router.post("/{task_id}/done")
async def mark_done(task_id: int, services: ServicesDep, viewer: ViewerDep) -> TaskOut:
    try:
        await task_service.finish_task(
            services, task_id, acting_user_id=viewer.user_id, is_admin=viewer.is_admin, now=utcnow()
        )
    except TaskError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _one(services, task_id)


@router.post("/{task_id}/reopen")
async def reopen(task_id: int, services: ServicesDep, viewer: ViewerDep) -> TaskOut:
    try:
        await task_service.reopen_task(services, task_id, acting_user_id=viewer.user_id, is_admin=viewer.is_admin)
    except TaskError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _one(services, task_id)


@router.post("/{task_id}/assign")
async def assign(task_id: int, body: Assignment, services: ServicesDep, viewer: ViewerDep) -> TaskOut:
    try:
        await task_service.pass_task(
            services, task_id, body.assignee_user_id, acting_user_id=viewer.user_id, is_admin=viewer.is_admin
        )
    except TaskError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _one(services, task_id)
