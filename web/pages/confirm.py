"""/confirm/{token}: the prospect confirms the email address and completes the address data (seed 002).

The link is checked first (a forged or spent link stores nothing); then the submission is stored as a raw
payload before anything else; the workflow then receives it as a validated update, so a
forged, foreign, reused or expired link is refused before anything enters history, and the page says why.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from db.crm import ConfirmedAddress
from db.models import Inquiry
from starter.services import confirmations
from starter.services.context import Services
from web.dependencies import ServicesDep
from web.pages import confirm_legal
from web.templating import templates

router = APIRouter(tags=["prospect pages"], include_in_schema=False)

FORM_FIELDS = (
    "salutation",
    "first_name",
    "last_name",
    "street",
    "zip_code",
    "city",
    "phone",
    "newsletter",
    "early_start",
)
LABELS = {
    "first_name": "Vorname",
    "last_name": "Nachname",
    "zip_code": "PLZ",
    "city": "Ort",
    "street": "Straße",
    "phone": "Telefon",
    "salutation": "Anrede",
}
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "invalid": (
        404,
        "Link ungültig",
        "Dieser Bestätigungslink ist ungültig. Bitte verwenden Sie den Link aus Ihrer E-Mail.",
    ),
    "expired": (
        410,
        "Link abgelaufen",
        "Dieser Bestätigungslink ist abgelaufen. Bitte stellen Sie Ihre Anfrage erneut.",
    ),
    "used": (409, "Bereits bestätigt", "Diese Anfrage wurde bereits bestätigt. Das Exposé ist unterwegs zu Ihnen."),
    "unavailable": (
        503,
        "Kurz nicht erreichbar",
        "Wir können Ihre Bestätigung gerade nicht annehmen. Bitte versuchen Sie es in ein paar Minuten erneut.",
    ),
}


def problem_page(request: Request, code: str) -> HTMLResponse:
    status, title, message = PROBLEMS[code]
    headers = {"Retry-After": "60"} if status == 503 else None
    return templates.TemplateResponse(
        request, "confirm/problem.html", {"title": title, "message": message}, status_code=status, headers=headers
    )


async def _form(
    request: Request, services: Services, inquiry: Inquiry, values: dict[str, Any], errors: dict[str, str], status: int
) -> HTMLResponse:
    page = await confirmations.confirmation_page(services, inquiry)
    prop = page.property
    context = {
        "legal": confirm_legal.legal_context(page.legal, prop, inquiry.property_ref),
        "values": values,
        "errors": errors,
        "labels": LABELS,
        "email": inquiry.email,
        "property_title": prop.title if prop else (inquiry.property_ref or "die Immobilie"),
        "property_ref": prop.external_ref if prop else inquiry.property_ref,
    }
    return templates.TemplateResponse(request, "confirm/form.html", context, status_code=status)


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirmation_form(request: Request, token: str, services: ServicesDep) -> HTMLResponse:
    try:
        found = await confirmations.find_confirmable(services, token)
    except confirmations.ConfirmationRefusedError as refused:
        return problem_page(request, refused.code)
    return await _form(request, services, found.inquiry, dict(found.inquiry.prospect), {}, 200)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str, services: ServicesDep) -> HTMLResponse:
    # The link first: a forged or spent link stores nothing (the body is capped in web.security.limits).
    try:
        found = await confirmations.find_confirmable(services, token)
    except confirmations.ConfirmationRefusedError as refused:
        return problem_page(request, refused.code)
    inquiry = found.inquiry
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    values["newsletter"] = values["newsletter"] == "1"
    values["early_start"] = values["early_start"] == "1"
    # Kept whatever happens next.
    raw_id = await confirmations.store_submission(services, values, request.client.host if request.client else None)
    try:
        ConfirmedAddress.model_validate({**values, "email": inquiry.email})
    except ValidationError as exc:
        errors = {str(error["loc"][0]): _german(error) for error in exc.errors()}
        return await _form(request, services, inquiry, values, errors, 422)
    # Before the update: the workflow reads the early-start request when it decides about the exposé.
    origin = confirm_legal.declaration_origin(request)
    consent_ids = await confirmations.record_declarations(services, origin, inquiry, values, raw_id)
    try:
        await confirmations.deliver_confirmation(services, found.claims, raw_id, consent_ids)
    except confirmations.ConfirmationRefusedError as refused:
        return problem_page(request, refused.code)
    prop = await confirmations.inquiry_property(services, inquiry)
    title = prop.title if prop else (inquiry.property_ref or "die Immobilie")
    context = {"property_title": title, "newsletter": values["newsletter"]}
    return templates.TemplateResponse(request, "confirm/done.html", context)


def _german(error: Any) -> str:
    kind = str(error.get("type", ""))
    if kind in ("missing", "string_too_short"):
        return "bitte ausfüllen"
    if kind == "string_too_long":
        return "zu lang"
    if kind == "string_pattern_mismatch":
        return "ungültiges Format"
    return str(error.get("msg", "ungültig"))
