"""Admin-only property routes: create, edit, cover and exposé upload, archive, and the OpenImmo import.

Everything here changes the office's portfolio, so the whole router is meant to sit behind one admin
dependency (roles come with the users feature): `app.include_router(router, dependencies=[AdminDep])`.
Reading properties (list, page, exposé download) is web/pages/properties.py, for every user.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from db.models import MarketingStatus
from starter.services import properties as service
from starter.services.context import Services
from starter.services.form_errors import german_problem
from starter.services.media import MAX_IMAGE_BYTES, MAX_PDF_BYTES, MediaError
from starter.services.office_choices import office_users
from starter.services.property_import import (
    MAX_UPLOAD_BYTES,
    ImportOptions,
    get_property_import,
    import_openimmo,
    recent_property_imports,
)
from web.api.properties import PropertyDetailOut, get_property
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.dashboard import not_found
from web.security.auth import current_user
from web.security.roles import AdminOnly
from web.templating import templates
from web.uploads import UploadError, read_upload

# Changing the portfolio is admin work (issue 21): every route here answers agents 403.
router = APIRouter(tags=["office"], include_in_schema=False, dependencies=[AdminOnly])
api_router = APIRouter(prefix="/api/properties", tags=["properties"], dependencies=[AdminOnly])
FIELD_LABELS = {
    "external_ref": "Objektnummer",
    "title": "Titel",
    "marketing_status": "Vermarktungsstatus",
    "rooms": "Zimmer",
    "living_area": "Wohnfläche",
    "price": "Preis",
    "expose_url": "Exposé-Link",
    "contact_persons": "Ansprechpartner",
    "visible_user_ids": "Sichtbar für",
    "property_type": "Objektart",
    "street": "Straße",
    "zip_code": "PLZ",
    "city": "Ort",
    "key_data": "Eckdaten",
    "texts": "Texte",
}


async def _form_context(services: Services, prop_id: int | None, values: dict[str, Any]) -> dict[str, Any]:
    choices = await service.property_form_choices(services, prop_id)
    return {
        "values": values,
        "users": choices.users,
        "persons": choices.persons,
        "statuses": service.MARKETING_LABELS,
        "text_labels": service.TEXT_LABELS,
        "detail": choices.detail,
        "prop_id": prop_id,
    }


def _input(form: dict[str, Any], lists: dict[str, list[str]]) -> service.PropertyInput:
    return service.PropertyInput(
        external_ref=form.get("external_ref", ""),
        title=form.get("title", ""),
        marketing_status=form.get("marketing_status") or MarketingStatus.ACTIVE,
        visible_to_all=form.get("visible_to_all") in (True, "true"),
        visible_user_ids=[int(v) for v in lists.get("visible_user_ids", []) if v.isdigit() and len(v) < 12],
        manager_user_id=int(form["manager_user_id"]) if form.get("manager_user_id", "").isdigit() else None,
        contact_persons=[v for v in lists.get("contact_persons", []) if v],
        property_type=form.get("property_type"),
        rooms=service.parse_decimal(form.get("rooms"), "Zimmer"),
        living_area=service.parse_decimal(form.get("living_area"), "Wohnfläche"),
        price=service.parse_decimal(form.get("price"), "Preis"),
        street=form.get("street"),
        zip_code=form.get("zip_code"),
        city=form.get("city"),
        key_data=service.parse_key_facts(form.get("key_data", "")),
        texts={label: form.get(f"text_{n}", "") for n, label in enumerate(service.TEXT_LABELS)},
        expose_url=form.get("expose_url"),
    )


async def _posted(request: Request) -> tuple[dict[str, Any], dict[str, list[str]]]:
    form = await request.form()
    fields: dict[str, Any] = {}
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value.strip())
            lists.setdefault(key, []).append(value.strip())
    fields["texts"] = {label: fields.get(f"text_{n}", "") for n, label in enumerate(service.TEXT_LABELS)}
    fields["visible_user_ids"] = [int(v) for v in lists.get("visible_user_ids", []) if v.isdigit() and len(v) < 12]
    fields["contact_persons"] = [v for v in lists.get("contact_persons", []) if v]
    fields["visible_to_all"] = fields.get("visible_to_all") == "true"
    return fields, lists


def _problem(exc: Exception) -> str:
    return german_problem(exc, FIELD_LABELS) if isinstance(exc, ValidationError) else str(exc)


async def _save(request: Request, services: Services, property_id: int | None) -> Response:
    fields, lists = await _posted(request)
    try:
        data = _input(fields, lists)
        saved_id = await service.store_property(services, data, property_id)
    except (ValidationError, service.PropertyError) as exc:
        context = await _form_context(services, property_id, fields)
        context["error"] = _problem(exc)
        return templates.TemplateResponse(request, "properties/form.html", context, status_code=422)
    flash(request, f"Objekt {data.external_ref} gespeichert.")
    return RedirectResponse(f"/properties/{saved_id}", status_code=303)


def _missing(request: Request, property_id: int) -> HTMLResponse:
    return not_found(request, f"Objekt #{property_id} existiert nicht.")


@router.get("/properties/new", response_class=HTMLResponse)
async def new_property(request: Request, services: ServicesDep) -> HTMLResponse:
    user = current_user(request)
    values = {"marketing_status": "active", "visible_to_all": True, "manager_user_id": user.id if user else None}
    return templates.TemplateResponse(request, "properties/form.html", await _form_context(services, None, values))


@router.post("/properties/new", response_model=None)
async def create_property(request: Request, services: ServicesDep) -> Response:
    return await _save(request, services, None)


@router.get("/properties/{property_id:int}/edit", response_class=HTMLResponse)
async def edit_property(request: Request, property_id: int, services: ServicesDep) -> HTMLResponse:
    values = await service.property_form_values(services, property_id)
    if values is None:
        return _missing(request, property_id)
    return templates.TemplateResponse(
        request, "properties/form.html", await _form_context(services, property_id, values)
    )


@router.post("/properties/{property_id:int}/edit", response_model=None)
async def update_property(request: Request, property_id: int, services: ServicesDep) -> Response:
    if not await service.property_exists(services, property_id):  # before reading the form
        return _missing(request, property_id)
    return await _save(request, services, property_id)


@router.post("/properties/{property_id:int}/cover", response_model=None)
async def upload_cover(request: Request, property_id: int, services: ServicesDep) -> Response:
    return await _upload(request, services, property_id, "cover")


@router.post("/properties/{property_id:int}/expose", response_model=None)
async def upload_expose(request: Request, property_id: int, services: ServicesDep) -> Response:
    return await _upload(request, services, property_id, "expose")


async def _upload(request: Request, services: Services, property_id: int, kind: str) -> Response:
    if not await service.property_exists(services, property_id):
        return _missing(request, property_id)
    try:
        upload = await read_upload(request, "file", MAX_IMAGE_BYTES if kind == "cover" else MAX_PDF_BYTES)
        if kind == "cover":
            await service.attach_cover(services, property_id, upload.data)
        else:
            await service.attach_expose(services, property_id, upload.data)
    except (UploadError, MediaError) as exc:
        reason = exc.reason if isinstance(exc, UploadError) else str(exc)
        status = exc.status_code if isinstance(exc, UploadError) else 422
        values = await service.property_form_values(services, property_id) or {}
        context = await _form_context(services, property_id, values)
        context["error"] = reason
        return templates.TemplateResponse(request, "properties/form.html", context, status_code=status)
    flash(request, "Titelbild gespeichert." if kind == "cover" else "Exposé (PDF) gespeichert.")
    return RedirectResponse(f"/properties/{property_id}/edit", status_code=303)


@router.post("/properties/{property_id:int}/expose/remove", response_model=None)
async def remove_expose(request: Request, property_id: int, services: ServicesDep) -> Response:
    try:
        await service.remove_expose(services, property_id)
    except service.PropertyError:
        return _missing(request, property_id)
    flash(request, "Das Exposé-PDF wird nicht mehr verschickt.")
    return RedirectResponse(f"/properties/{property_id}/edit", status_code=303)


@router.post("/properties/{property_id:int}/archive", response_model=None)
async def archive_property(request: Request, property_id: int, services: ServicesDep) -> Response:
    return await _archive(request, services, property_id, archived=True)


@router.post("/properties/{property_id:int}/restore", response_model=None)
async def restore_property(request: Request, property_id: int, services: ServicesDep) -> Response:
    return await _archive(request, services, property_id, archived=False)


async def _archive(request: Request, services: Services, property_id: int, *, archived: bool) -> Response:
    try:
        ref = (await service.archive_property(services, property_id, archived)).external_ref
    except service.PropertyError:
        return _missing(request, property_id)
    flash(
        request,
        f"Objekt {ref} archiviert: neue Anfragen dafür werden ignoriert; Anfragen, Leads und Verlauf bleiben."
        if archived
        else f"Objekt {ref} ist wieder da (Vermarktungsstatus bitte prüfen).",
    )
    return RedirectResponse(f"/properties/{property_id}", status_code=303)


# --- OpenImmo import -------------------------------------------------------------------------------------


@router.get("/properties/import", response_class=HTMLResponse)
async def import_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "properties/import.html", await _import_context(request, services))


async def _import_context(request: Request, services: Services) -> dict[str, Any]:
    user = current_user(request)
    recent = await recent_property_imports(services)
    users = await office_users(services)
    return {"recent": recent, "users": users, "me": user.id if user else None, "max_mb": MAX_UPLOAD_BYTES // 2**20}


@router.post("/properties/import", response_model=None)
async def import_upload(request: Request, services: ServicesDep) -> Response:
    user = current_user(request)
    try:
        upload = await read_upload(request, "file", MAX_UPLOAD_BYTES)
    except UploadError as exc:
        context = {**await _import_context(request, services), "error": exc.reason}
        return templates.TemplateResponse(request, "properties/import.html", context, status_code=exc.status_code)
    manager = upload.fields.get("manager_user_id", "")
    options = ImportOptions(
        visible_to_all=upload.fields.get("visible_to_all") == "true",
        manager_user_id=int(manager) if manager.isdigit() and len(manager) < 12 else None,
    )
    row = await import_openimmo(services, upload.data, upload.filename, options, user.id if user else None)
    return RedirectResponse(f"/properties/imports/{row.id}", status_code=303)


@router.get("/properties/imports/{import_id:int}", response_class=HTMLResponse)
async def import_report(request: Request, import_id: int, services: ServicesDep) -> HTMLResponse:
    row = await get_property_import(services, import_id)
    if row is None:
        return not_found(request, f"Import #{import_id} existiert nicht.")
    return templates.TemplateResponse(request, "properties/import_report.html", {"row": row})


@api_router.post("/import")
async def import_api(
    request: Request, services: ServicesDep, filename: str = "upload", visible_to_all: bool = True
) -> JSONResponse:
    """The raw OpenImmo file as the body (`curl --data-binary @export.zip`); the answer is the import's report."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"Die Datei ist größer als {MAX_UPLOAD_BYTES // 2**20} MB.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"Die Datei ist größer als {MAX_UPLOAD_BYTES // 2**20} MB.")
        chunks.append(chunk)
    data = b"".join(chunks)
    user = current_user(request)
    options = ImportOptions(visible_to_all=visible_to_all)
    row = await import_openimmo(services, data, filename, options, user.id if user else None)
    body = {"id": row.id, "status": row.status, "error": row.error, "report": row.report}
    return JSONResponse(body, status_code=422 if row.error else 200)


async def _detail_out(services: Services, property_id: int) -> PropertyDetailOut:
    return await get_property(property_id, services)  # the read model of GET /api/properties/{id}


@api_router.post("", status_code=201)
async def create_property_api(data: service.PropertyInput, services: ServicesDep) -> PropertyDetailOut:
    """Create a property (`contact_persons`: `["user:2", "contact:7"]`, in order); 409 when the ref is taken."""
    return await _write_api(services, data, None)


@api_router.put("/{property_id}")
async def replace_property_api(
    property_id: int, data: service.PropertyInput, services: ServicesDep
) -> PropertyDetailOut:
    """Replace a property as the edit form does (cover, exposé file and pictures stay)."""
    return await _write_api(services, data, property_id)


async def _write_api(services: Services, data: service.PropertyInput, property_id: int | None) -> PropertyDetailOut:
    try:
        saved_id = await service.store_property(services, data, property_id)
    except service.PropertyError as exc:
        reason = str(exc)
        status = 404 if reason.startswith("Objekt #") else 409 if "Objektnummer" in reason else 422
        raise HTTPException(status, reason) from None
    return await _detail_out(services, saved_id)


@api_router.post("/{property_id}/archive")
async def archive_property_api(property_id: int, services: ServicesDep) -> PropertyDetailOut:
    return await _archive_api(services, property_id, archived=True)


@api_router.post("/{property_id}/restore")
async def restore_property_api(property_id: int, services: ServicesDep) -> PropertyDetailOut:
    return await _archive_api(services, property_id, archived=False)


async def _archive_api(services: Services, property_id: int, *, archived: bool) -> PropertyDetailOut:
    try:
        await service.archive_property(services, property_id, archived)
    except service.PropertyError as exc:
        raise HTTPException(404, str(exc)) from None
    return await _detail_out(services, property_id)
