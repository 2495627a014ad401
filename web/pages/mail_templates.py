"""/settings/templates: the office edits its mail templates, with a live preview on demo data.

Saving renders the template first (web.pages.template_preview); a template that fails is not stored
and the page shows why, so a broken text surfaces here and not as a failed inquiry days later.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from db.base import utcnow
from db.models import MessageTemplate
from starter.services import mail_templates as template_service
from starter.services.context import Services
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.dashboard import not_found
from web.pages.template_preview import Preview, preview
from web.security.roles import AdminOnly
from web.templating import templates
from web.texts import t

router = APIRouter(tags=["office"], include_in_schema=False, dependencies=[AdminOnly])

MAX_SUBJECT = 500
MAX_BODY = 50_000


class PreviewRequest(BaseModel):
    subject: str = Field(max_length=MAX_SUBJECT)
    body: str = Field(max_length=MAX_BODY)


async def _preview(services: Services, key: str, subject: str, body: str) -> Preview:
    return await template_service.render_preview(services, partial(preview, key, subject, body))


def _edit_page(
    request: Request, template: MessageTemplate, subject: str, body: str, result: Preview, status: int = 200
) -> HTMLResponse:
    context: dict[str, Any] = {"template": template, "subject": subject, "body": body, "preview": result}
    return templates.TemplateResponse(request, "settings/template_edit.html", context, status_code=status)


@router.get("/settings/templates", response_class=HTMLResponse)
async def template_list(request: Request, services: ServicesDep) -> HTMLResponse:
    rows = await template_service.list_templates(services)
    return templates.TemplateResponse(request, "settings/templates.html", {"rows": rows})


@router.get("/settings/templates/{key}", response_class=HTMLResponse)
async def template_form(request: Request, key: str, services: ServicesDep) -> HTMLResponse:
    template = await template_service.find_template(services, key)
    if template is None:
        return not_found(request, t("error.template_missing"))
    result = await _preview(services, key, template.subject, template.body)
    return _edit_page(request, template, template.subject, template.body, result)


@router.post("/settings/templates/{key}", response_class=HTMLResponse)
async def save_template(
    request: Request,
    key: str,
    services: ServicesDep,
    subject: Annotated[str, Form(max_length=MAX_SUBJECT)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
) -> Response:
    # Browsers send textarea line breaks as CRLF; the stored template keeps the mail's plain \n.
    subject, body = subject.replace("\r\n", "\n").strip(), body.replace("\r\n", "\n")
    template = await template_service.find_template(services, key)
    if template is None:
        return not_found(request, t("error.template_missing"))
    result = await _preview(services, key, subject, body)
    if not result.ok:
        flash(request, t("templates.refused"), "error")
        return _edit_page(request, template, subject, body, result, status=422)
    if not await template_service.save_template(services, template.id, subject, body, utcnow()):
        return not_found(request, t("error.template_missing"))
    flash(request, t("templates.saved", name=template.name))
    return RedirectResponse("/settings/templates", status_code=303)


@router.post("/settings/templates/{key}/preview")
async def preview_template(key: str, data: PreviewRequest, services: ServicesDep) -> JSONResponse:
    """The editor's live preview: JSON in (subject, body), JSON out (rendered or the error)."""
    result = await _preview(services, key, data.subject, data.body)
    return JSONResponse(
        {"ok": result.ok, "subject": result.subject, "body": result.body, "error": result.error},
        headers={"Cache-Control": "no-store"},
    )
