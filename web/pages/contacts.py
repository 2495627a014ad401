"""/contacts: the office's address records: search, a contact's page with everything known, new, edit, archive.

Every logged-in user may work with contacts (agents edit the people they deal with); the CSV import is
admin-only and lives in web/pages/contact_import.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from db.models import ContactStatus
from starter.services import contacts as service
from starter.services.context import Services
from starter.services.form_errors import german_problem
from starter.services.office_choices import office_users
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.dashboard import mail_page, not_found
from web.security.auth import current_user
from web.security.headers import MAIL_FRAME_HEADERS
from web.templating import templates

router = APIRouter(tags=["office"], include_in_schema=False)

FIELD_LABELS = {
    "last_name": "Nachname",
    "first_name": "Vorname",
    "email": "E-Mail",
    "birthday": "Geburtstag",
    "status": "Status",
    "zip_code": "PLZ",
    "owner_user_id": "Betreuer",
    "salutation": "Anrede",
    "phone": "Telefon",
    "mobile": "Mobil",
    "street": "Straße",
    "city": "Ort",
}
FORM_FIELDS = (
    "salutation",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "street",
    "zip_code",
    "city",
    "birthday",
    "status",
    "owner_user_id",
)


@router.get("/contacts", response_class=HTMLResponse)
async def contacts(
    request: Request, services: ServicesDep, q: str = "", status: str = "", archived: str = "", page: str = "1"
) -> HTMLResponse:
    # Query values are read leniently: a hand-edited URL gets the list, not a JSON validation error.
    number = int(page) if page.isdigit() and len(page) < 6 else 1
    wanted = service.ContactFilter(
        query=q[:100],
        status=status if status in set(ContactStatus) else "",
        archived=archived == "true",
        page=max(1, min(number, 10_000)),
    )
    rows, total = await service.search_contacts(services, wanted)
    context = {
        "rows": rows,
        "total": total,
        "wanted": wanted,
        "labels": service.STATUS_LABELS,
        "pages": max(1, -(-total // service.PAGE_SIZE)),
    }
    return templates.TemplateResponse(request, "contacts/list.html", context)


@router.get("/contacts/{contact_id:int}", response_class=HTMLResponse)
async def contact_page(request: Request, contact_id: int, services: ServicesDep) -> HTMLResponse:
    view = await service.get_contact_overview(services, contact_id)
    if view is None:
        return not_found(request, f"Kontakt #{contact_id} existiert nicht.")
    context = {"v": view, "labels": service.STATUS_LABELS, "kinds": service.JOURNAL_KINDS}
    return templates.TemplateResponse(request, "contacts/detail.html", context)


@router.get("/contacts/{contact_id:int}/messages/{message_id:int}", response_class=HTMLResponse)
async def contact_message(request: Request, contact_id: int, message_id: int, services: ServicesDep) -> HTMLResponse:
    message = await service.find_contact_message(services, contact_id, message_id)
    if message is None:
        return not_found(request, "Diese Nachricht gibt es bei diesem Kontakt nicht.")
    return mail_page(request, message, f"/contacts/{contact_id}", "← Zum Kontakt")


@router.get("/contacts/{contact_id:int}/messages/{message_id:int}/html", response_class=HTMLResponse)
async def contact_message_html(contact_id: int, message_id: int, services: ServicesDep) -> HTMLResponse:
    """The mail's HTML part for the sandboxed frame, with the mail-frame policy (inline styles, no scripts)."""
    message = await service.find_contact_message(services, contact_id, message_id)
    if message is None or not message.body_html:
        return HTMLResponse("", status_code=404)
    return HTMLResponse(message.body_html, headers=MAIL_FRAME_HEADERS)


async def _form_context(services: Services, values: dict[str, Any], contact_id: int | None) -> dict[str, Any]:
    users = await office_users(services)
    return {"values": values, "users": users, "labels": service.STATUS_LABELS, "contact_id": contact_id}


@router.get("/contacts/new", response_class=HTMLResponse)
async def new_contact(request: Request, services: ServicesDep) -> HTMLResponse:
    context = await _form_context(services, {"status": "prospect"}, None)
    return templates.TemplateResponse(request, "contacts/form.html", context)


@router.get("/contacts/{contact_id:int}/edit", response_class=HTMLResponse)
async def edit_contact(request: Request, contact_id: int, services: ServicesDep) -> HTMLResponse:
    contact = await service.get_contact(services, contact_id)
    if contact is None:
        return not_found(request, f"Kontakt #{contact_id} existiert nicht.")
    values = {name: getattr(contact, name) for name in (*FORM_FIELDS, "newsletter")}
    context = await _form_context(services, values, contact_id)
    return templates.TemplateResponse(request, "contacts/form.html", context)


async def _posted(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}
    values["newsletter"] = form.get("newsletter") == "true"
    return values


def _problem(exc: ValidationError) -> str:
    return german_problem(exc, FIELD_LABELS)


@router.post("/contacts/new", response_model=None)
async def create_contact(request: Request, services: ServicesDep) -> Response:
    values = await _posted(request)
    try:
        data = service.ContactUpdate(**values)
        contact_id = (await service.add_office_contact(services, data)).id
    except (ValidationError, service.ContactError) as exc:
        context = await _form_context(services, values, None)
        context["error"] = _problem(exc) if isinstance(exc, ValidationError) else str(exc)
        return templates.TemplateResponse(request, "contacts/form.html", context, status_code=422)
    flash(request, "Kontakt angelegt.")
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


@router.post("/contacts/{contact_id:int}/edit", response_model=None)
async def update_contact(request: Request, contact_id: int, services: ServicesDep) -> Response:
    values = await _posted(request)
    try:
        data = service.ContactUpdate(**values)
        await service.save_contact(services, contact_id, data)
    except ValidationError as exc:
        context = await _form_context(services, values, contact_id)
        context["error"] = _problem(exc)
        return templates.TemplateResponse(request, "contacts/form.html", context, status_code=422)
    except service.ContactError as exc:
        return not_found(request, str(exc))
    flash(request, "Kontakt gespeichert.")
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


@router.post("/contacts/{contact_id:int}/archive", response_model=None)
async def archive_contact(request: Request, contact_id: int, services: ServicesDep) -> Response:
    return await _archive(request, services, contact_id, archived=True)


@router.post("/contacts/{contact_id:int}/restore", response_model=None)
async def restore_contact(request: Request, contact_id: int, services: ServicesDep) -> Response:
    return await _archive(request, services, contact_id, archived=False)


async def _archive(request: Request, services: Services, contact_id: int, *, archived: bool) -> Response:
    try:
        await service.archive_contact(services, contact_id, archived)
    except service.ContactError as exc:
        return not_found(request, str(exc))
    flash(
        request,
        "Kontakt archiviert: er fehlt in Listen, Dublettenprüfung und Geburtstagsmails; sein Verlauf bleibt."
        if archived
        else "Kontakt ist wieder aktiv (Status: Interessent).",
    )
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


@router.post("/contacts/{contact_id:int}/journal", response_model=None)
async def add_journal_entry(request: Request, contact_id: int, services: ServicesDep) -> Response:
    form = await request.form()
    user = current_user(request)
    try:
        await service.record_journal_entry(
            services,
            contact_id,
            kind=str(form.get("kind") or service.NOTE),
            text=str(form.get("text") or "").strip()[:10_000],
            reason=str(form.get("reason") or "").strip()[:200] or None,
            user_id=user.id if user else None,
        )
    except service.ContactError as exc:
        if isinstance(exc, service.ContactNotFoundError):
            return not_found(request, str(exc))
        flash(request, str(exc), "error")
    else:
        flash(request, "Eintrag gespeichert.")
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)
