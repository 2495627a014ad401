"""The office mailbox in the office UI and API: mailbox settings, and the queue "Nicht erkannte E-Mails".

/settings/mailboxes         list, new, edit (the password is write-only: never rendered back)
/api/mailboxes              the same as JSON (GET, POST, PUT /api/mailboxes/{id})
/mail/unrecognised          mails no parser recognised; each opens with its raw text and an inquiry form
                            prefilled with what could be read; the agent assigns (an inquiry) or discards it
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from db.models import InboundStatus
from starter.intake.mail import read_mail
from starter.intake.mail.fields import PERSON_FIELDS, Field, read_fields, split_name
from starter.intake.payload import PayloadError, describe_errors
from starter.intake.service import IntakeRejected
from starter.services.context import Services
from starter.services.mailboxes import (
    MailboxError,
    MailboxInput,
    assign_unrecognised,
    discard_unrecognised,
    inbound_mail,
    mailbox_service,
    unrecognised_mails,
)
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.auth import CurrentUserDep
from web.security.roles import AdminOnly
from web.templating import templates
from web.texts import t

router = APIRouter(tags=["mailboxes"], dependencies=[AdminOnly])  # mailbox configuration is admin work
pages = APIRouter(include_in_schema=False)

RAW_SHOWN_BYTES = 200_000  # the page shows this much of a raw mail; the database keeps all of it
PREFILL_FIELDS = (*PERSON_FIELDS, Field("property_ref", ("Objekt", "Objektnummer", "Objekt-Nr", "Immobilie")))
FORM_FIELDS = ("source", "property_ref", "salutation", "first_name", "last_name", "email", "phone", "message")


# --- JSON API -------------------------------------------------------------------------------------------


@router.get("/api/mailboxes")
async def list_mailboxes(services: ServicesDep) -> list[dict[str, object]]:
    return [m.as_json() for m in await mailbox_service(services).all()]


async def _save_json(request: Request, services: Services, mailbox_id: int | None) -> Response:
    try:
        data = MailboxInput.model_validate(await request.json())
        view = await mailbox_service(services).save(data, mailbox_id)
    except ValidationError as exc:
        return JSONResponse({"detail": describe_errors(exc, {})}, status_code=422)
    except ValueError as exc:  # includes MailboxError and a body that is not JSON
        if isinstance(exc, MailboxError):
            return JSONResponse({"detail": str(exc), "errors": exc.errors}, status_code=exc.status_code)
        return JSONResponse({"detail": "Der Body ist kein gültiges JSON."}, status_code=400)
    return JSONResponse(view.as_json(), status_code=201 if mailbox_id is None else 200)


@router.post("/api/mailboxes")
async def create_mailbox(request: Request, services: ServicesDep) -> Response:
    return await _save_json(request, services, None)


@router.put("/api/mailboxes/{mailbox_id}")
async def update_mailbox(mailbox_id: int, request: Request, services: ServicesDep) -> Response:
    return await _save_json(request, services, mailbox_id)


# --- settings pages -------------------------------------------------------------------------------------


async def _mailboxes_page(
    request: Request,
    services: Services,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    editing: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    service = mailbox_service(services)
    mailboxes = await service.all()
    current = next((m for m in mailboxes if m.id == editing), None)
    if values is None:
        values = dict(current.__dict__) if current else {"imap_port": 993, "imap_tls": "tls", "folder": "INBOX"}
    context = {
        "mailboxes": mailboxes,
        "values": values,
        "errors": errors or {},
        "editing": current,
        "users": await service.users(),
    }
    return templates.TemplateResponse(request, "settings/mailboxes.html", context, status_code=status)


@pages.get("/settings/mailboxes", response_class=HTMLResponse, dependencies=[AdminOnly])
async def mailboxes_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return await _mailboxes_page(request, services)


@pages.get("/settings/mailboxes/{mailbox_id}", response_class=HTMLResponse, dependencies=[AdminOnly])
async def mailbox_page(mailbox_id: int, request: Request, services: ServicesDep) -> HTMLResponse:
    if await mailbox_service(services).get(mailbox_id) is None:
        raise HTTPException(404)
    return await _mailboxes_page(request, services, editing=mailbox_id)


@pages.post("/settings/mailboxes", response_class=HTMLResponse, dependencies=[AdminOnly])
@pages.post("/settings/mailboxes/{mailbox_id}", response_class=HTMLResponse, dependencies=[AdminOnly])
async def save_mailbox(request: Request, services: ServicesDep, mailbox_id: int | None = None) -> Response:
    form = await request.form()
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    values["enabled"] = "enabled" in form
    password = values.pop("password", "") or None  # never rendered back, not even after an error
    submitted = {**values, "password": password}
    try:
        await mailbox_service(services).save(MailboxInput.model_validate(submitted), mailbox_id)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"].removeprefix("Value error, ") for e in exc.errors() if e["loc"]}
        flash(request, t("mailboxes.invalid"), "error")
        return await _mailboxes_page(request, services, values, errors, mailbox_id, status=422)
    except MailboxError as exc:
        if exc.status_code == 404:
            raise HTTPException(404) from None
        flash(request, t("mailboxes.invalid"), "error")
        return await _mailboxes_page(request, services, values, exc.errors, mailbox_id, status=422)
    flash(request, t("mailboxes.saved"))
    return RedirectResponse("/settings/mailboxes", status_code=303)


# --- the queue of unrecognised mails --------------------------------------------------------------------


@pages.get("/mail/unrecognised", response_class=HTMLResponse)
async def unrecognised_list(request: Request, services: ServicesDep) -> HTMLResponse:
    rows = await unrecognised_mails(services)
    return templates.TemplateResponse(request, "mail/unrecognised.html", {"rows": rows})


def prefill(raw: bytes, sender: str | None) -> dict[str, str]:
    """What could be read from a mail no parser recognised: the agent corrects it, nothing is guessed silently."""
    mail = read_mail(raw)
    values = read_fields(mail.text, PREFILL_FIELDS)
    if "name" in values:
        for key, value in split_name(values.pop("name")).items():
            values.setdefault(key, value)
    values.setdefault("email", mail.reply_to or sender or "")
    values.setdefault("message", mail.text[:2000])
    values["source"] = "email"
    return {k: v for k, v in values.items() if k in FORM_FIELDS}


async def _unrecognised_page(
    request: Request, services: Services, inbound_id: int, values: dict[str, str] | None = None,
    error: str | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    found = await inbound_mail(services, inbound_id)
    if found is None:
        raise HTTPException(404)
    row, mailbox = found
    raw_text = row.raw[:RAW_SHOWN_BYTES].decode("utf-8", errors="replace")
    context = {
        "row": row,
        "mailbox": mailbox,
        "raw": raw_text,
        "truncated": len(row.raw) > RAW_SHOWN_BYTES,
        "values": values or prefill(row.raw, row.sender),
        "error": error,
        "open": row.status == InboundStatus.UNRECOGNISED,
    }
    return templates.TemplateResponse(request, "mail/unrecognised_detail.html", context, status_code=status)


@pages.get("/mail/unrecognised/{inbound_id}", response_class=HTMLResponse)
async def unrecognised_detail(inbound_id: int, request: Request, services: ServicesDep) -> HTMLResponse:
    return await _unrecognised_page(request, services, inbound_id)


@pages.post("/mail/unrecognised/{inbound_id}/assign", response_class=HTMLResponse)
async def assign(inbound_id: int, request: Request, services: ServicesDep, user: CurrentUserDep) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}
    try:
        inquiry_id = await assign_unrecognised(services, inbound_id, values, user.id if user else None)
    except LookupError:
        raise HTTPException(404) from None
    except (PayloadError, IntakeRejected) as exc:
        status = 409 if exc.status_code == 409 else 422
        return await _unrecognised_page(
            request, services, inbound_id, values, t("unrecognised.invalid", reason=exc.reason), status
        )
    flash(request, t("unrecognised.assigned"))
    return RedirectResponse(f"/dashboard/inquiries/{inquiry_id}", status_code=303)


@pages.post("/mail/unrecognised/{inbound_id}/discard", response_class=HTMLResponse)
async def discard(inbound_id: int, request: Request, services: ServicesDep, user: CurrentUserDep) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "").strip()[:500] or None
    try:
        await discard_unrecognised(services, inbound_id, reason, user.id if user else None)
    except LookupError:
        raise HTTPException(404) from None
    except PayloadError:
        return await _unrecognised_page(request, services, inbound_id, error=t("unrecognised.done"), status=409)
    flash(request, t("unrecognised.discarded"))
    return RedirectResponse("/mail/unrecognised", status_code=303)
