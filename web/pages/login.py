"""/login and /logout for office staff: users from the database, scrypt passwords, server-side sessions."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.passwords import hash_password, needs_rehash, verify_password
from starter.services import users as user_service
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.auth import CurrentUserDep, end_session, safe_next, start_session
from web.security.throttle import LoginThrottle
from web.templating import templates
from web.texts import t

router = APIRouter(tags=["office"], include_in_schema=False)

# Verified when the email is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = hash_password("immoflow-dummy-password")


def _login_page(
    request: Request,
    *,
    email: str,
    next_url: str,
    error: str | None,
    status: int,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {"email": email, "next": next_url, "error": error}
    return templates.TemplateResponse(request, "office/login.html", context, status_code=status, headers=headers)


def _throttle(request: Request) -> LoginThrottle:
    """The counters are in the database; a test may put a throttle with its own clock on the app."""
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    return throttle or LoginThrottle(request.app.state.services.sessions)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, user: CurrentUserDep, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, email="", next_url=safe_next(next), error=None, status=200)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    address = email.strip().lower()
    client = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    wait = await throttle.retry_after(address, client)
    if wait:
        if wait < 120:
            error = t("login.throttled_seconds", seconds=wait)
        else:
            error = t("login.throttled", minutes=math.ceil(wait / 60))
        headers = {"Retry-After": str(wait)}
        return _login_page(request, email=email, next_url=safe_next(next), error=error, status=429, headers=headers)
    user = await user_service.user_by_email(services, address)
    stored = user.password_hash if user is not None and user.is_active else None
    # scrypt takes ~50 ms of CPU: off the event loop, so one login does not stall every other request.
    valid = await asyncio.to_thread(verify_password, password, stored or _DUMMY_HASH)
    if user is None or stored is None or not valid:
        await throttle.failed(address, client)
        return _login_page(request, email=email, next_url=safe_next(next), error=t("login.failed"), status=401)
    if needs_rehash(stored):
        user = await user_service.rehash_password(services, user.id, password) or user
    await throttle.succeeded(address, client)
    await start_session(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    await end_session(request)
    flash(request, t("login.logged_out"), "info")
    return RedirectResponse("/login", status_code=303)
