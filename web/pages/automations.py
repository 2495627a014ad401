"""/automations: the office's admin page of trigger → action rules (seed 003), their runs and errors.

The list shows each rule's trigger, conditions, actions, an on/off switch and "Zuletzt ausgeführt"
(red when the last run failed), linking to the rule's runs; a run shows its steps, its error with the
detail, and a link to its workflow in the Temporal UI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from automations.actions import actions
from automations.rules import RuleInvalidError
from automations.triggers import triggers
from starter.services import automations as service
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.automation_forms import RuleForm, form_of, parse_form
from web.security.roles import AdminOnly
from web.templating import templates

router = APIRouter(prefix="/automations", tags=["automations"], include_in_schema=False, dependencies=[AdminOnly])


def _not_found(exc: service.RuleNotFoundError) -> HTTPException:
    return HTTPException(404, str(exc))


async def _form_page(
    request: Request, services: ServicesDep, form: RuleForm, rule_id: int | None, status_code: int = 200
) -> HTMLResponse:
    options = await service.form_options(services)
    context: dict[str, Any] = {
        "form": form.padded(),
        "rule_id": rule_id,
        "triggers": triggers(),
        "actions": actions(),
        "ops": service.OP_LABELS,
        "options": options,
    }
    return templates.TemplateResponse(request, "automations/form.html", context, status_code=status_code)


async def _form_data(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.get("", response_class=HTMLResponse)
async def automations(request: Request, services: ServicesDep) -> HTMLResponse:
    rules = await service.rules_overview(services)
    context = {"rules": rules, "outcomes": service.OUTCOME_LABELS}
    return templates.TemplateResponse(request, "automations/list.html", context)


@router.get("/new", response_class=HTMLResponse)
async def new_rule(request: Request, services: ServicesDep, trigger: str = "") -> HTMLResponse:
    return await _form_page(request, services, RuleForm(trigger=trigger), None)


@router.post("/new", response_model=None)
async def create_rule(request: Request, services: ServicesDep) -> Response:
    form, definition = parse_form(await _form_data(request))
    if definition is not None:
        try:
            created = await service.add_rule(services, definition)
        except RuleInvalidError as exc:
            form.errors = exc.errors
        else:
            flash(request, f"Automation „{created.rule.name}“ angelegt.")
            return RedirectResponse("/automations", status_code=303)
    return await _form_page(request, services, form, None, status_code=422)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_detail(request: Request, run_id: int, services: ServicesDep) -> HTMLResponse:
    try:
        detail = await service.run_detail(services, run_id)
    except service.RuleNotFoundError as exc:
        raise _not_found(exc) from exc
    run = detail.run
    context = {
        "facts": detail.facts,
        "run": run,
        "item": detail.item,
        "outcomes": service.OUTCOME_LABELS,
        "workflow_url": service.workflow_url(services.settings, run.workflow_id),
        "action_labels": {kind: action.label for kind, action in actions().items()},
    }
    return templates.TemplateResponse(request, "automations/run.html", context)


@router.get("/{rule_id}", response_class=HTMLResponse)
async def edit_rule(request: Request, rule_id: int, services: ServicesDep) -> HTMLResponse:
    try:
        rule = await service.load_rule(services, rule_id)
    except service.RuleNotFoundError as exc:
        raise _not_found(exc) from exc
    return await _form_page(request, services, form_of(rule), rule_id)


@router.post("/{rule_id}", response_model=None)
async def update_rule(request: Request, rule_id: int, services: ServicesDep) -> Response:
    form, definition = parse_form(await _form_data(request))
    if definition is not None:
        try:
            saved = await service.change_rule(services, rule_id, definition)
        except service.RuleNotFoundError as exc:
            raise _not_found(exc) from exc
        except RuleInvalidError as exc:
            form.errors = exc.errors
        else:
            flash(request, f"Automation „{saved.rule.name}“ gespeichert.")
            return RedirectResponse("/automations", status_code=303)
    return await _form_page(request, services, form, rule_id, status_code=422)


@router.post("/{rule_id}/toggle")
async def toggle_rule(request: Request, rule_id: int, services: ServicesDep) -> RedirectResponse:
    enabled = (await _form_data(request)).get("enabled") == "1"
    try:
        switched = await service.switch_rule(services, rule_id, enabled)
    except service.RuleNotFoundError as exc:
        raise _not_found(exc) from exc
    flash(request, f"Automation „{switched.rule.name}“ {'eingeschaltet' if enabled else 'ausgeschaltet'}.")
    return RedirectResponse("/automations", status_code=303)


@router.get("/{rule_id}/runs", response_class=HTMLResponse)
async def rule_runs(request: Request, rule_id: int, services: ServicesDep) -> HTMLResponse:
    try:
        item, runs = await service.rule_runs(services, rule_id, limit=200)
    except service.RuleNotFoundError as exc:
        raise _not_found(exc) from exc
    context = {
        "item": item,
        "runs": runs,
        "outcomes": service.OUTCOME_LABELS,
        "workflow_urls": {run.id: service.workflow_url(services.settings, run.workflow_id) for run in runs},
    }
    return templates.TemplateResponse(request, "automations/runs.html", context)
