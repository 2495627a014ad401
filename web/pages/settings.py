"""/settings/inquiry-manager: every switch and number of seeds 002 and 000, and the exceptions list.

Reads and writes through the settings API's functions, so the page and `PUT /api/settings/inquiry-manager`
store the same document the same way (including the templates for reminders 1..K).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.api.settings import (
    StoredSettingsInvalidError,
    config_problems,
    read_inquiry_config,
    write_inquiry_config,
)
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.settings_forms import (
    DUPLICATE_CHECKS,
    EXCEPTION_ACTIONS,
    EXCEPTION_FIELDS,
    FINAL_NOTICES,
    activity_kinds,
    form_values,
    parse_form,
)
from web.security.roles import AdminOnly
from web.templating import templates
from web.texts import has_text, t
from workflows.inquiry_models import InquiryManagerConfig

router = APIRouter(tags=["office"], include_in_schema=False, dependencies=[AdminOnly])

PATH = "/settings/inquiry-manager"


def kind_label(kind: str) -> str:
    key = f"activity_kind.{kind}"
    return t(key) if has_text(key) else kind  # a kind configured through the API that the UI has no name for


def _page(request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> HTMLResponse:
    context = {
        "values": values,
        "errors": errors,
        "kinds": [(kind, kind_label(kind)) for kind in activity_kinds(values["stop_activity_kinds"])],
        "duplicate_checks": DUPLICATE_CHECKS,
        "final_notices": FINAL_NOTICES,
        "exception_fields": EXCEPTION_FIELDS,
        "exception_actions": EXCEPTION_ACTIONS,
    }
    return templates.TemplateResponse(request, "settings/inquiry_manager.html", context, status_code=status)


@router.get("/settings")
async def settings_home() -> RedirectResponse:
    return RedirectResponse(PATH, status_code=303)


@router.get(PATH, response_class=HTMLResponse)
async def settings_form(request: Request, services: ServicesDep) -> HTMLResponse:
    try:
        config = await read_inquiry_config(services)
    except StoredSettingsInvalidError as exc:  # stored before the bounds existed: the page is the repair
        flash(request, t("settings.stored_invalid", fields=str(exc)), "error")
        config = InquiryManagerConfig()
    return _page(request, form_values(config), {})


@router.post(PATH, response_class=HTMLResponse)
async def save_settings(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    submitted = {name: form.getlist(name) for name in form}
    try:
        current = await read_inquiry_config(services)
    except StoredSettingsInvalidError:
        current = InquiryManagerConfig()
    config, values, errors = parse_form(submitted, activity_kinds(current.stop_activity_kinds))
    if config is not None:
        production = services.settings.env == "production"
        problems = config_problems(config, production=production)
        if problems:
            config = None
            errors.update(problems)
    if config is None:
        flash(request, t("settings.invalid"), "error")
        return _page(request, values, errors, status=422)
    await write_inquiry_config(services, config)
    flash(request, t("settings.saved"))
    return RedirectResponse(PATH, status_code=303)
