"""/account/sessions: where the logged-in user sees their active sessions and ends them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.dependencies import ServicesDep
from web.flash import flash
from web.security import sessions as web_sessions
from web.security.auth import CurrentUserDep, end_session, session_token
from web.templating import templates
from web.texts import t

router = APIRouter(prefix="/account", tags=["office"], include_in_schema=False)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, user: CurrentUserDep, services: ServicesDep) -> Response:
    if user is None:  # a bearer token has no sessions of its own
        return RedirectResponse("/login?next=%2Faccount%2Fsessions", status_code=303)
    lifetimes = web_sessions.Lifetimes.from_settings(services.settings)
    rows = await web_sessions.active_sessions(
        services.sessions, user.id, lifetimes, current_token=session_token(request)
    )
    context = {
        "active": rows,
        "idle_minutes": services.settings.session_idle_minutes,
        "absolute_hours": services.settings.session_absolute_hours,
    }
    return templates.TemplateResponse(request, "account/sessions.html", context)


@router.post("/sessions/end-others")
async def end_other_sessions(request: Request, user: CurrentUserDep, services: ServicesDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    ended = await web_sessions.end_user_sessions(services.sessions, user.id, keep_token=session_token(request))
    flash(request, t("account.sessions.ended_others", count=ended), "info")
    return RedirectResponse("/account/sessions", status_code=303)


@router.post("/sessions/end-all")
async def end_all_sessions(request: Request, user: CurrentUserDep, services: ServicesDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    await web_sessions.end_user_sessions(services.sessions, user.id)
    await end_session(request)
    flash(request, t("account.sessions.ended_all"), "info")
    return RedirectResponse("/login", status_code=303)
