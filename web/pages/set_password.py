"""/set-password/<token>: where an invited or reset user chooses their password (public; the signed link
is the credential). A used, replaced, expired or forged link is refused with a page that says which.

The password itself is never stored raw: only its scrypt hash, written with the link's version bump in one
transaction, so the link works exactly once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from starter.services import users as user_service
from starter.services.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, LinkError, UserError
from web.dependencies import ServicesDep
from web.flash import flash
from web.templating import templates

router = APIRouter(tags=["office"], include_in_schema=False)

_LINK_STATUS = {"invalid": 404, "expired": 410, "used": 410}


def _problem(request: Request, error: LinkError) -> Response:
    context = {"message": str(error)}
    return templates.TemplateResponse(
        request, "users/set_password_problem.html", context, status_code=_LINK_STATUS.get(error.code, 400)
    )


def _form(request: Request, token: str, name: str, email: str, error: str | None, status: int) -> Response:
    context = {"token": token, "name": name, "email": email, "error": error, "min_length": MIN_PASSWORD_LENGTH}
    return templates.TemplateResponse(request, "users/set_password.html", context, status_code=status)


@router.get("/set-password/{token}", response_class=HTMLResponse)
async def set_password_form(request: Request, token: str, services: ServicesDep) -> Response:
    try:
        user = await user_service.check_password_link(services, token)
    except LinkError as error:
        return _problem(request, error)
    return _form(request, token, user.name, user.email, None, 200)


@router.post("/set-password/{token}", response_model=None)
async def set_password(
    request: Request,
    token: str,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    repeated: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
) -> Response:
    try:
        await user_service.choose_password(services, token, password, repeated)
    except LinkError as error:
        return _problem(request, error)
    except UserError as error:
        try:
            user = await user_service.check_password_link(services, token)
        except LinkError as link_error:
            return _problem(request, link_error)
        return _form(request, token, user.name, user.email, str(error), 422)
    flash(request, "Ihr Passwort ist gespeichert. Melden Sie sich jetzt damit an.")
    return RedirectResponse("/login", status_code=303)
