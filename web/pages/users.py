"""/users: the admins' page of the office's users (create or invite, edit, set-password links, deactivate).

Every write goes through starter.services.users inside one transaction, the same as the JSON API
(web.api.users); the set-password mail leaves through the outbox and the dispatcher.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from db.base import utcnow
from db.models import User
from starter.services import users as user_service
from starter.services.users import UserError, UserInput
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.auth import current_user
from web.security.roles import AdminOnly
from web.templating import templates
from web.texts import t

router = APIRouter(prefix="/users", tags=["office"], include_in_schema=False, dependencies=[AdminOnly])

FIELD_LABELS = {
    "name": "Name",
    "email": "E-Mail-Adresse",
    "mobile": "Mobilnummer",
    "sms_billing_account": "SMS-Abrechnungskonto",
    "role": "Rolle",
}


def validation_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    return f"{FIELD_LABELS.get(field, field)}: {first['msg'].removeprefix('Value error, ')}"


def user_input(form: dict[str, str]) -> UserInput:
    return UserInput(
        name=form.get("name", ""),
        email=form.get("email", ""),
        mobile=form.get("mobile") or None,
        sms_allowed=form.get("sms_allowed") == "on",
        sms_billing_account=form.get("sms_billing_account") or None,
        role=form.get("role") or "agent",
    )


async def _form(request: Request) -> dict[str, str]:
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


def _form_page(
    request: Request, *, user: User | None, values: dict[str, Any], error: str | None, status: int
) -> Response:
    context = {"user": user, "values": values, "error": error, "roles": ["agent", "admin"]}
    return templates.TemplateResponse(request, "users/form.html", context, status_code=status)


@router.get("", response_class=HTMLResponse)
async def users(request: Request, services: ServicesDep) -> HTMLResponse:
    rows = await user_service.list_users(services, active_first=True)
    return templates.TemplateResponse(request, "users/list.html", {"users": rows})


@router.get("/new", response_class=HTMLResponse)
async def new_user(request: Request) -> Response:
    return _form_page(request, user=None, values={"role": "agent", "send_link": True}, error=None, status=200)


@router.post("/new", response_model=None)
async def create_user(request: Request, services: ServicesDep) -> Response:
    form = await _form(request)
    send_link = form.get("send_link") == "on"
    try:
        data = user_input(form)
        user_id = (await user_service.add_user(services, data, send_link=send_link, now=utcnow())).id
    except ValidationError as exc:
        return _form_page(request, user=None, values=form, error=validation_text(exc), status=422)
    except UserError as exc:
        return _form_page(request, user=None, values=form, error=str(exc), status=exc.status)
    if send_link:
        flash(request, f"{data.name} ist angelegt; der Link zum Festlegen des Passworts geht an {data.email}.")
    else:
        flash(request, f"{data.name} ist angelegt (noch ohne Passwort; senden Sie den Link, wenn es so weit ist).")
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.get("/{user_id}", response_class=HTMLResponse)
async def edit_user(request: Request, user_id: int, services: ServicesDep) -> Response:
    try:
        user = await user_service.load_user(services, user_id)
    except user_service.UserNotFoundError:
        return _missing(request, user_id)
    return _form_page(request, user=user, values=_values(user), error=None, status=200)


@router.post("/{user_id}", response_model=None)
async def update_user(request: Request, user_id: int, services: ServicesDep) -> Response:
    form = await _form(request)
    try:
        user = await user_service.load_user(services, user_id)
    except user_service.UserNotFoundError:
        return _missing(request, user_id)
    try:
        data = user_input(form)
        await user_service.edit_user(services, user_id, data)
    except ValidationError as exc:
        return _form_page(request, user=user, values=form, error=validation_text(exc), status=422)
    except UserError as exc:
        return _form_page(request, user=user, values=form, error=str(exc), status=exc.status)
    flash(request, f"Die Angaben zu {data.name} sind gespeichert.")
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/{user_id}/password-link", response_model=None)
async def send_password_link(request: Request, user_id: int, services: ServicesDep) -> Response:
    return await _account_action(request, services, user_id, "link")


@router.post("/{user_id}/reset", response_model=None)
async def reset_password(request: Request, user_id: int, services: ServicesDep) -> Response:
    return await _account_action(request, services, user_id, "reset")


@router.post("/{user_id}/deactivate", response_model=None)
async def deactivate(request: Request, user_id: int, services: ServicesDep) -> Response:
    return await _account_action(request, services, user_id, "deactivate")


@router.post("/{user_id}/activate", response_model=None)
async def activate(request: Request, user_id: int, services: ServicesDep) -> Response:
    return await _account_action(request, services, user_id, "activate")


async def _account_action(request: Request, services: ServicesDep, user_id: int, action: str) -> Response:
    acting = current_user(request)
    now = utcnow()
    try:
        if action == "deactivate":
            user = await user_service.deactivate(
                services, user_id, acting_user_id=acting.id if acting else None, now=now
            )
            text = f"{user.name} ist deaktiviert und kann sich nicht mehr anmelden; die Historie bleibt."
        elif action == "activate":
            user = await user_service.activate(services, user_id)
            text = f"{user.name} ist wieder aktiv."
        else:
            user = await user_service.send_password_link(services, user_id, now=now, reset=action == "reset")
            text = (
                f"Das Passwort von {user.name} ist zurückgesetzt; ein Link für ein neues geht an {user.email}."
                if action == "reset"
                else f"Ein neuer Link zum Passwort geht an {user.email}; ältere Links gelten nicht mehr."
            )
    except user_service.UserNotFoundError:
        return _missing(request, user_id)
    except UserError as exc:
        flash(request, f"Nicht möglich: {exc}", "error")
        return RedirectResponse(f"/users/{user_id}", status_code=303)
    flash(request, text)
    return RedirectResponse(f"/users/{user_id}", status_code=303)


def _values(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "mobile": user.mobile or "",
        "sms_allowed": user.sms_allowed,
        "sms_billing_account": user.sms_billing_account or "",
        "role": user.role,
    }


def _missing(request: Request, user_id: int) -> Response:
    context = {"title": t("error.not_found"), "message": f"Benutzer {user_id} gibt es nicht."}
    return templates.TemplateResponse(request, "office/problem.html", context, status_code=404)
