"""Admin-only: importing contacts from a CSV file (preview, confirm, report); see starter/services/contact_csv.py.

Gate this router with the admin dependency of the users feature, like web/pages/property_admin.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from starter.services.contact_csv import (
    MAX_CSV_BYTES,
    CsvError,
    ImportNotFoundError,
    confirm_contact_import,
    get_contact_import,
    preview_contact_import,
    recent_contact_imports,
)
from starter.services.context import Services
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.dashboard import not_found
from web.security.auth import current_user
from web.security.roles import AdminOnly
from web.templating import templates
from web.uploads import UploadError, read_upload

router = APIRouter(tags=["office"], include_in_schema=False, dependencies=[AdminOnly])  # admin work
DUPLICATE_CHECKS = {"email": "nach E-Mail-Adresse", "name_zip": "nach Name und PLZ (und E-Mail)", "off": "aus"}


async def _context(services: Services) -> dict[str, Any]:
    recent = await recent_contact_imports(services)
    return {"recent": recent, "max_mb": MAX_CSV_BYTES // 2**20}


@router.get("/contacts/import", response_class=HTMLResponse)
async def import_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "contacts/import.html", await _context(services))


@router.post("/contacts/import", response_model=None)
async def upload(request: Request, services: ServicesDep) -> Response:
    try:
        upload = await read_upload(request, "file", MAX_CSV_BYTES)
    except UploadError as exc:
        context = {**await _context(services), "error": exc.reason}
        return templates.TemplateResponse(request, "contacts/import.html", context, status_code=exc.status_code)
    user = current_user(request)
    row = await preview_contact_import(services, upload.data, upload.filename, user.id if user else None)
    return RedirectResponse(f"/contacts/imports/{row.id}", status_code=303)


@router.get("/contacts/imports/{import_id:int}", response_class=HTMLResponse)
async def preview(request: Request, import_id: int, services: ServicesDep) -> HTMLResponse:
    row = await get_contact_import(services, import_id)
    if row is None:
        return not_found(request, f"Import #{import_id} existiert nicht.")
    context = {"row": row, "checks": DUPLICATE_CHECKS}
    return templates.TemplateResponse(request, "contacts/import_preview.html", context)


@router.post("/contacts/imports/{import_id:int}/confirm", response_model=None)
async def confirm(request: Request, import_id: int, services: ServicesDep) -> Response:
    try:
        row = await confirm_contact_import(services, import_id)
    except CsvError as exc:
        if isinstance(exc, ImportNotFoundError):
            return not_found(request, exc.reason)
        flash(request, exc.reason, "error")
        return RedirectResponse(f"/contacts/imports/{import_id}", status_code=303)
    flash(request, f"{row.report.get('created', 0)} Kontakte angelegt.")
    return RedirectResponse(f"/contacts/imports/{import_id}", status_code=303)
