"""/tasks ("Aufgaben"): each user's inbox of what workflows, automations and colleagues asked of them.

Open tasks come overdue first, then by due date; each links to the inquiry, lead, slot request or contact it
belongs to. Agents see and change their own tasks; admins pick any user's inbox, the unassigned tasks or all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from db.base import utcnow
from starter.services import tasks as task_service
from starter.services import users as user_service
from starter.services.tasks import TaskError
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.roles import ViewerDep
from web.templating import templates

router = APIRouter(prefix="/tasks", tags=["office"], include_in_schema=False)


def _inbox_url(show: str, who: str | None) -> str:
    params = [f"show={show}"] if show == "done" else []
    if who:
        params.append(f"user={who}")
    return "/tasks" + ("?" + "&".join(params) if params else "")


@router.get("", response_class=HTMLResponse)
async def tasks(
    request: Request, services: ServicesDep, viewer: ViewerDep, show: str = "open", user: str | None = None
) -> HTMLResponse:
    done = show == "done"
    # Agents always get their own inbox, whatever the URL says; admins (and the API token) may choose.
    assignee: int | str | None
    if not viewer.is_admin or (viewer.user_id is not None and user in (None, "")):
        assignee = viewer.user_id
        who = None
    elif user in ("all", "unassigned"):
        assignee, who = user, user
    elif user and user.isdigit():
        assignee, who = int(user), user
    else:
        assignee, who = "all", "all"
    rows = await task_service.list_inbox(services, assignee=assignee, done=done, now=utcnow())
    users = await user_service.active_users(services)
    context = {
        "rows": rows,
        "done": done,
        "who": who,
        "users": users,
        "is_admin": viewer.is_admin,
        "open_url": _inbox_url("open", who),
        "done_url": _inbox_url("done", who),
        "back": _inbox_url(show, who),
    }
    return templates.TemplateResponse(request, "tasks/list.html", context)


async def _act(
    request: Request, services: ServicesDep, viewer: ViewerDep, task_id: int, action: str, **kw: int
) -> Response:
    form = await request.form()
    back = str(form.get("back") or "/tasks")
    back = back if back.startswith("/tasks") else "/tasks"
    acting, admin = viewer.user_id, viewer.is_admin
    try:
        if action == "done":
            task = await task_service.finish_task(
                services, task_id, acting_user_id=acting, is_admin=admin, now=utcnow()
            )
            text = f"„{task.title}“ ist erledigt."
        elif action == "reopen":
            task = await task_service.reopen_task(services, task_id, acting_user_id=acting, is_admin=admin)
            text = f"„{task.title}“ ist wieder offen."
        else:
            task, user = await task_service.pass_task(
                services, task_id, kw["assignee_user_id"], acting_user_id=acting, is_admin=admin
            )
            text = f"„{task.title}“ liegt jetzt bei {user.name}."
    except TaskError as exc:
        flash(request, f"Nicht möglich: {exc}", "error")
        return RedirectResponse(back, status_code=303)
    flash(request, text)
    return RedirectResponse(back, status_code=303)


@router.post("/{task_id}/done", response_model=None)
async def done(request: Request, task_id: int, services: ServicesDep, viewer: ViewerDep) -> Response:
    return await _act(request, services, viewer, task_id, "done")


@router.post("/{task_id}/reopen", response_model=None)
async def reopen(request: Request, task_id: int, services: ServicesDep, viewer: ViewerDep) -> Response:
    return await _act(request, services, viewer, task_id, "reopen")


@router.post("/{task_id}/assign", response_model=None)
async def assign(
    request: Request,
    task_id: int,
    services: ServicesDep,
    viewer: ViewerDep,
    assignee_user_id: Annotated[int, Form()],
) -> Response:
    return await _act(request, services, viewer, task_id, "assign", assignee_user_id=assignee_user_id)
