"""Prospect-facing legal pages: Impressum, privacy notice, one-click objection (RFC 8058), double opt-in.

Every prospect page shows the office's identity: `install_office_identity` loads it for public requests
and `public_base.html` prints its header and footer.

/unsubscribe/{token}: mail clients POST `List-Unsubscribe=One-Click` without a page, a cookie or a login
(RFC 8058 § 3.2); a person clicking the footer link gets a page to choose "advertising" or "everything".
The POST body is stored raw first. GET never changes anything (link scanners prefetch links), and the
double opt-in link confirms only with the page's button for the same reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from db.models import ObjectionScope
from starter.services import privacy
from starter.services.context import Services
from starter.services.privacy import Origin
from web.dependencies import ServicesDep
from web.templating import templates

router = APIRouter(tags=["prospect pages"], include_in_schema=False)

MAX_BODY = 4096  # a one-click POST is 26 bytes; the choice form a few more
IDENTITY_PREFIXES = ("/confirm/", "/slots/", "/unsubscribe/", "/consent/", "/impressum", "/datenschutz")


def origin(request: Request) -> Origin:
    return Origin(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        page=request.url.path,
    )


def install_office_identity(app: FastAPI) -> None:
    @app.middleware("http")
    async def office_identity(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith(IDENTITY_PREFIXES):
            services: Services | None = getattr(request.app.state, "services", None)
            if services is not None:
                request.state.office = await privacy.office_identity(services)
        return await call_next(request)


def _page(request: Request, title: str, message: str, status: int = 200, **extra: object) -> HTMLResponse:
    context = {"title": title, "message": message, **extra}
    return templates.TemplateResponse(request, "legal/message.html", context, status_code=status)


@router.get("/impressum", response_class=HTMLResponse)
async def impressum(request: Request, services: ServicesDep) -> Response:
    identity = await privacy.office_identity(services)
    if identity.impressum_url:
        return RedirectResponse(str(identity.impressum_url), status_code=303)
    text = identity.impressum_text or f"{identity.name}\n{identity.address}\n{identity.email}\n{identity.phone}"
    return templates.TemplateResponse(request, "legal/text.html", {"title": "Impressum", "text": text})


@router.get("/datenschutz", response_class=HTMLResponse)
async def privacy_notice(request: Request, services: ServicesDep) -> Response:
    identity = await privacy.office_identity(services)
    if identity.privacy_url:
        return RedirectResponse(str(identity.privacy_url), status_code=303)
    return templates.TemplateResponse(
        request, "legal/text.html", {"title": "Datenschutzhinweise", "text": identity.privacy_text}
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str, services: ServicesDep) -> HTMLResponse:
    if not await privacy.unsubscribe_link_known(services, token):
        return _page(
            request,
            "Link ungültig",
            "Dieser Abmeldelink ist ungültig. Bitte nutzen Sie den Link aus Ihrer E-Mail.",
            404,
        )
    return templates.TemplateResponse(request, "legal/unsubscribe.html", {"token": token})


@router.post("/unsubscribe/{token}", response_model=None)
async def unsubscribe(request: Request, token: str, services: ServicesDep) -> Response:
    received = bytearray()
    async for chunk in request.stream():  # read no more than a one-click POST can need
        received += chunk
        if len(received) > MAX_BODY:
            break
    body = received[:MAX_BODY].decode("utf-8", "replace")
    raw_id = await privacy.keep_raw_payload(  # kept whatever happens next (a too large one: its start)
        services,
        channel="unsubscribe",
        content_type=request.headers.get("content-type"),
        body=body,
        remote_addr=request.client.host if request.client else None,
    )
    if len(received) > MAX_BODY:
        return _page(request, "Zu groß", "Diese Anfrage ist zu groß.", 413)
    fields = parse_qs(body)
    one_click = fields.get("List-Unsubscribe") == ["One-Click"] and "scope" not in fields
    scope_value = (fields.get("scope") or ["all"])[0]
    if scope_value not in (ObjectionScope.ADVERTISING, ObjectionScope.ALL):
        return _page(
            request, "Ungültige Auswahl", "Bitte wählen Sie, welche E-Mails Sie nicht mehr erhalten möchten.", 422
        )
    known = await privacy.object_by_link(
        services,
        token,
        # RFC 8058 one-click carries no choice: the person wants no more of our mail.
        scope=ObjectionScope(scope_value),
        source="one-click" if one_click else "page",
        origin=origin(request),
        raw_payload_id=raw_id,
    )
    if not known:
        if one_click:
            return PlainTextResponse("unknown unsubscribe link", status_code=404)
        return _page(request, "Link ungültig", "Dieser Abmeldelink ist ungültig.", 404)
    if one_click:
        return PlainTextResponse("unsubscribed", status_code=200)
    what = "keine E-Mails mehr" if scope_value == ObjectionScope.ALL else "keine Werbung mehr"
    return _page(
        request, "Widerspruch gespeichert", f"Sie erhalten von uns {what}. Laufende Erinnerungen sind beendet."
    )


@router.get("/consent/{token}", response_class=HTMLResponse)
async def consent_page(request: Request, token: str) -> HTMLResponse:
    return templates.TemplateResponse(request, "legal/consent.html", {"token": token})


@router.post("/consent/{token}", response_class=HTMLResponse)
async def consent_confirm(request: Request, token: str, services: ServicesDep) -> HTMLResponse:
    status = await privacy.confirm_consent_link(services, token, origin(request))
    if status is None:
        return _page(request, "Link ungültig", "Dieser Bestätigungslink ist ungültig.", 404)
    if status == "withdrawn":
        return _page(request, "Einwilligung widerrufen", "Sie hatten dieser Einwilligung bereits widersprochen.", 409)
    return _page(request, "Vielen Dank", "Ihre Einwilligung ist bestätigt. Sie können sie jederzeit widerrufen.")
