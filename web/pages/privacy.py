"""The office's side of the prospect's rights: /contacts/{id}/privacy and its JSON API.

The page lists each consent (printable as proof), the objections, the retention date, and offers the
Art. 15 export (JSON, readable HTML, PDF) and the Art. 17 erasure. The contact page links here.
Also /settings/legal and /api/settings/legal: the office's identity and legal texts.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from db.legal_settings import LegalSettings
from db.models import Contact, ObjectionScope
from starter.services import privacy
from starter.services.context import Services
from web.dependencies import ServicesDep
from web.flash import flash
from web.security.auth import CurrentUserDep
from web.security.roles import AdminOnly
from web.templating import templates

router = APIRouter(tags=["privacy"])

RETENTION_REASONS = {"interest": "Interesse", "contract": "Vertrag", "legal_duty": "Gesetzliche Pflicht"}


class ErasureOut(BaseModel):
    contact_id: int
    workflows_ended: list[str]
    files_deleted: int
    rows_swept: int
    kept_for_legal_duty: int


class PropertyWiderrufIn(BaseModel):
    mode: Literal["on", "off"] | None = Field(description="on/off: this property; null: the office setting.")


class RetentionIn(BaseModel):
    retain_until: date | None
    retention_reason: str | None = None


async def _contact(services: Services, contact_id: int) -> Contact:
    try:
        return await privacy.find_contact(services, contact_id)
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc


ExportFormat = Annotated[Literal["json", "pdf"], Query(alias="format", description="json (default) or pdf")]


@router.get(
    "/api/contacts/{contact_id}/export",
    dependencies=[AdminOnly],
    responses={200: {"content": {"application/pdf": {}}, "description": "JSON, or the PDF with ?format=pdf"}},
)
async def export_json(
    contact_id: int, services: ServicesDep, user: CurrentUserDep, form: ExportFormat = "json"
) -> Response:
    if form == "pdf":
        return await _export_pdf(services, contact_id, user.id if user else None)
    try:
        data = await privacy.export_contact_data(services, contact_id, user_id=user.id if user else None, form="json")
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    headers = {"Content-Disposition": f'attachment; filename="auskunft-kontakt-{contact_id}.json"'}
    return JSONResponse(json.loads(json.dumps(data, default=str)), headers=headers)


async def _erase(
    services: Services, contact_id: int, user_id: int | None, origin: str, *, force: bool = False
) -> ErasureOut:
    try:
        outcome = await privacy.erase_contact_data(services, contact_id, user_id=user_id, origin=origin, force=force)
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    except privacy.LegalHoldError as exc:
        raise HTTPException(409, str(exc)) from exc
    result = outcome.result
    return ErasureOut(
        contact_id=contact_id,
        workflows_ended=outcome.workflows_ended,
        files_deleted=result.files_deleted,
        rows_swept=result.rows_swept,
        kept_for_legal_duty=result.kept_for_legal_duty,
    )


@router.post("/api/contacts/{contact_id}/erase", dependencies=[AdminOnly])
async def erase_json(contact_id: int, services: ServicesDep, user: CurrentUserDep, force: bool = False) -> ErasureOut:
    """FORCE: erase despite a legal duty to keep recorded on the contact (the office decided so)."""
    return await _erase(services, contact_id, user.id if user else None, "api", force=force)


class ConsentRequestIn(BaseModel):
    note: str = Field("", max_length=300, description="How the wish reached the office, e.g. 'am Telefon'.")


@router.post("/api/contacts/{contact_id}/consents", status_code=201)
async def request_consent(
    contact_id: int, body: ConsentRequestIn, services: ServicesDep, user: CurrentUserDep
) -> dict[str, Any]:
    """A wish for offers that reached the office another way: recorded and asked by double opt-in mail,
    counting only once the person clicked (an office-set newsletter flag alone never counts)."""
    try:
        record = await privacy.request_office_consent(
            services, contact_id, user_id=user.id if user else None, note=body.note
        )
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    except privacy.NoEmailError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"consent_id": record.id, "status": record.status}


class ObjectionIn(BaseModel):
    scope: ObjectionScope


async def _object(services: Services, contact_id: int, scope: ObjectionScope, user_id: int | None) -> int:
    try:
        return await privacy.record_office_objection(services, contact_id, scope=scope, user_id=user_id)
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    except privacy.NoEmailError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/api/contacts/{contact_id}/objections", status_code=201)
async def object_json(
    contact_id: int, body: ObjectionIn, services: ServicesDep, user: CurrentUserDep
) -> dict[str, Any]:
    """An objection that reached the office by phone or letter: recorded like the one-click one."""
    objection_id = await _object(services, contact_id, body.scope, user.id if user else None)
    return {"objection_id": objection_id, "scope": body.scope}


@router.post("/contacts/{contact_id}/privacy/objection", include_in_schema=False)
async def object_form(request: Request, contact_id: int, services: ServicesDep, user: CurrentUserDep) -> Response:
    form = await request.form()
    try:
        scope = ObjectionScope(str(form.get("scope", "")))
        await _object(services, contact_id, scope, user.id if user else None)
    except ValueError:
        flash(request, "Bitte wählen Sie den Umfang des Widerspruchs.", "error")
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        flash(request, f"Nicht gespeichert: {exc.detail}", "error")
    else:
        flash(request, "Widerspruch gespeichert.")
    return RedirectResponse(f"/contacts/{contact_id}/privacy", status_code=303)


@router.put("/api/properties/{property_id}/widerruf", dependencies=[AdminOnly])
async def set_property_widerruf(property_id: int, body: PropertyWiderrufIn, services: ServicesDep) -> dict[str, Any]:
    """Whether this property's exposé starts a broker contract with a right of withdrawal."""
    try:
        await privacy.set_property_widerruf(services, property_id, body.mode)
    except privacy.PropertyMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"property_id": property_id, "mode": body.mode}


@router.put("/api/contacts/{contact_id}/retention")
async def set_retention(contact_id: int, body: RetentionIn, services: ServicesDep) -> dict[str, Any]:
    if body.retention_reason is not None and body.retention_reason not in RETENTION_REASONS:
        raise HTTPException(422, f"Grund muss einer von {', '.join(RETENTION_REASONS)} sein")
    try:
        await privacy.set_contact_retention(
            services, contact_id, retain_until=body.retain_until, reason=body.retention_reason
        )
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"contact_id": contact_id, "retain_until": body.retain_until, "retention_reason": body.retention_reason}


async def _privacy_context(services: Services, contact: Contact) -> dict[str, Any]:
    overview = await privacy.privacy_overview(services, contact)
    return {
        "contact": contact,
        "consents": overview.consents,
        "objections": overview.objections,
        "audit": overview.audit,
        "reasons": RETENTION_REASONS,
    }


@router.get("/contacts/{contact_id}/privacy", response_class=HTMLResponse, include_in_schema=False)
async def privacy_page(request: Request, contact_id: int, services: ServicesDep) -> HTMLResponse:
    contact = await _contact(services, contact_id)
    context = await _privacy_context(services, contact)
    return templates.TemplateResponse(request, "legal/privacy.html", context)


@router.get(
    "/contacts/{contact_id}/privacy/consents/{consent_id}", response_class=HTMLResponse, include_in_schema=False
)
async def consent_proof(request: Request, contact_id: int, consent_id: int, services: ServicesDep) -> HTMLResponse:
    contact = await _contact(services, contact_id)
    context = await _privacy_context(services, contact)
    consent = next((c for c in context["consents"] if c.id == consent_id), None)
    if consent is None:
        raise HTTPException(404, f"Einwilligung #{consent_id} gehört nicht zu Kontakt #{contact_id}")
    return templates.TemplateResponse(request, "legal/consent_proof.html", {"contact": contact, "consent": consent})


@router.get(
    "/contacts/{contact_id}/privacy/export.html",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[AdminOnly],
)
async def export_html(request: Request, contact_id: int, services: ServicesDep, user: CurrentUserDep) -> HTMLResponse:
    try:
        data = await privacy.export_contact_data(services, contact_id, user_id=user.id if user else None, form="html")
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    return templates.TemplateResponse(request, "legal/export.html", {"contact_id": contact_id, "data": data})


async def _export_pdf(services: Services, contact_id: int, user_id: int | None) -> Response:
    try:
        document = await privacy.export_contact_pdf(services, contact_id, user_id=user_id)
    except privacy.ContactMissingError as exc:
        raise HTTPException(404, str(exc)) from exc
    headers = {"Content-Disposition": f'attachment; filename="auskunft-kontakt-{contact_id}.pdf"'}
    return Response(document, media_type="application/pdf", headers=headers)


@router.get("/contacts/{contact_id}/privacy/export.pdf", include_in_schema=False, dependencies=[AdminOnly])
async def export_pdf_page(contact_id: int, services: ServicesDep, user: CurrentUserDep) -> Response:
    return await _export_pdf(services, contact_id, user.id if user else None)


@router.post("/contacts/{contact_id}/privacy/erase", include_in_schema=False, dependencies=[AdminOnly])
async def erase_form(request: Request, contact_id: int, services: ServicesDep, user: CurrentUserDep) -> Response:
    form = await request.form()
    if form.get("confirm") != "LÖSCHEN":
        flash(request, "Zum Löschen bitte LÖSCHEN eintippen.", "error")
        return RedirectResponse(f"/contacts/{contact_id}/privacy", status_code=303)
    try:
        out = await _erase(services, contact_id, user.id if user else None, "page")
    except HTTPException as exc:
        flash(request, f"Nicht gelöscht: {exc.detail}", "error")
        return RedirectResponse(f"/contacts/{contact_id}/privacy", status_code=303)
    flash(request, f"Daten gelöscht: {out.rows_swept} Zeilen bereinigt, {len(out.workflows_ended)} Abläufe beendet.")
    return RedirectResponse(f"/contacts/{contact_id}/privacy", status_code=303)


@router.post("/contacts/{contact_id}/privacy/retention", include_in_schema=False)
async def retention_form(request: Request, contact_id: int, services: ServicesDep) -> Response:
    form = await request.form()
    raw_date, reason = str(form.get("retain_until", "")), str(form.get("retention_reason", "")) or None
    try:
        body = RetentionIn(retain_until=date.fromisoformat(raw_date) if raw_date else None, retention_reason=reason)
        await set_retention(contact_id, body, services)
    except (ValueError, HTTPException) as exc:
        flash(request, f"Nicht gespeichert: {getattr(exc, 'detail', exc)}", "error")
        return RedirectResponse(f"/contacts/{contact_id}/privacy", status_code=303)
    flash(request, "Speicherfrist gespeichert.")
    return RedirectResponse(f"/contacts/{contact_id}/privacy", status_code=303)


# --- settings ---------------------------------------------------------------------------------------------


@router.get("/api/settings/legal", dependencies=[AdminOnly])
async def get_legal(services: ServicesDep) -> LegalSettings:
    return await privacy.load_legal_settings(services)


@router.put("/api/settings/legal", dependencies=[AdminOnly])
async def put_legal(body: LegalSettings, services: ServicesDep) -> LegalSettings:
    return await privacy.save_legal_settings(services, body)


IDENTITY_FIELDS = (
    "name",
    "address",
    "email",
    "phone",
    "logo_url",
    "impressum_url",
    "impressum_text",
    "privacy_url",
    "privacy_text",
)
TEXT_FIELDS = ("consent_text", "commission_note", "widerruf_text", "withdrawal_form", "early_start_text")
NUMBER_FIELDS = ("withdrawal_days", "retention_notice_days", "unconfirmed_retention_days")


def _legal_page(
    request: Request, values: LegalSettings | dict[str, Any], errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    document = values.model_dump(mode="json") if isinstance(values, LegalSettings) else values
    context = {
        "values": document,
        "errors": errors,
        "identity_fields": IDENTITY_FIELDS,
        "text_fields": TEXT_FIELDS,
        "number_fields": NUMBER_FIELDS,
    }
    return templates.TemplateResponse(request, "legal/settings.html", context, status_code=status)


@router.get("/settings/legal", response_class=HTMLResponse, include_in_schema=False, dependencies=[AdminOnly])
async def legal_settings_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return _legal_page(request, await privacy.load_legal_settings(services), {})


@router.post("/settings/legal", response_class=HTMLResponse, include_in_schema=False, dependencies=[AdminOnly])
async def save_legal_settings(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    document: dict[str, Any] = {
        "identity": {name: str(form.get(f"identity.{name}", "")) for name in IDENTITY_FIELDS},
        **{name: str(form.get(name, "")) for name in (*TEXT_FIELDS, *NUMBER_FIELDS)},
        "widerruf_enabled": form.get("widerruf_enabled") == "1",
        "without_early_start": str(form.get("without_early_start", "wait")),
    }
    try:
        settings = LegalSettings.model_validate(document)
    except ValidationError as exc:
        errors = {".".join(str(p) for p in e["loc"]): str(e["msg"]) for e in exc.errors()}
        flash(request, "Nicht gespeichert: bitte die markierten Felder prüfen.", "error")
        return _legal_page(request, document, errors, 422)
    await privacy.save_legal_settings(services, settings)
    flash(request, "Gespeichert.")
    return RedirectResponse("/settings/legal", status_code=303)
