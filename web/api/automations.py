"""JSON API of the automations: rules (list, create, update, enable, disable), their runs, the catalog.

Definitions are checked against the registered triggers and actions: an unknown field, action or bad
action setting is a 422 with every problem listed, in German, as the admin page shows them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from automations.actions import actions
from automations.rules import RuleInvalidError
from automations.triggers import triggers
from db.models import AutomationRun
from settings import Settings
from starter.services import automations as service
from web.dependencies import ServicesDep
from web.security.roles import AdminOnly
from workflows.automation_models import RuleDefinition

router = APIRouter(prefix="/api/automations", tags=["automations"], dependencies=[AdminOnly])


class RunOut(BaseModel):
    id: int
    rule_id: int
    event_id: int
    trigger: str
    event_depth: int
    outcome: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    error_detail: str | None
    steps: list[dict[str, Any]]
    facts: dict[str, Any]
    workflow_id: str | None
    workflow_url: str | None


class RuleOut(BaseModel):
    id: int
    name: str
    description: str | None
    trigger: str
    trigger_label: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    summary: list[str]
    enabled: bool
    builtin_key: str | None
    run_count: int
    last_run: RunOut | None


def run_out(run: AutomationRun, settings: Settings) -> RunOut:
    return RunOut(
        id=run.id,
        rule_id=run.rule_id,
        event_id=run.event_id,
        trigger=run.trigger,
        event_depth=run.event_depth,
        outcome=run.outcome,
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=run.error,
        error_detail=run.error_detail,
        steps=run.steps,
        facts=run.facts,
        workflow_id=run.workflow_id,
        workflow_url=service.workflow_url(settings, run.workflow_id),
    )


def rule_out(item: service.RuleView, settings: Settings) -> RuleOut:
    rule = item.rule
    return RuleOut(
        id=rule.id,
        name=rule.name,
        description=rule.description,
        trigger=rule.trigger,
        trigger_label=item.trigger_label,
        conditions=rule.conditions,
        actions=rule.actions,
        summary=item.actions,
        enabled=rule.enabled,
        builtin_key=rule.builtin_key,
        run_count=item.run_count,
        last_run=run_out(item.last_run, settings) if item.last_run else None,
    )


@contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals as HTTP answers: an unknown rule or run is 404, a bad definition 422."""
    try:
        yield
    except service.RuleNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except RuleInvalidError as exc:
        raise HTTPException(422, exc.errors) from exc


@router.get("", response_model=list[RuleOut])
async def list_automations(services: ServicesDep) -> list[RuleOut]:
    return [rule_out(item, services.settings) for item in await service.rules_overview(services)]


@router.get("/catalog")
async def catalog() -> dict[str, Any]:
    """The triggers with the fields conditions can test, and the actions with their settings."""
    return {
        "triggers": [
            {"kind": t.kind, "label": t.label, "fields": [{"name": f.name, "label": f.label} for f in t.fields]}
            for t in triggers().values()
        ],
        "actions": [
            {"kind": a.kind, "label": a.label, "params": a.params_model.model_json_schema()} for a in actions().values()
        ],
        "condition_ops": [op.value for op in service.OP_LABELS],
    }


@router.post("", status_code=201, response_model=RuleOut)
async def create_automation(definition: RuleDefinition, services: ServicesDep) -> RuleOut:
    with refusals():
        return rule_out(await service.add_rule(services, definition), services.settings)


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: int, services: ServicesDep) -> RunOut:
    with refusals():
        return run_out(await service.find_run(services, run_id), services.settings)


@router.get("/{rule_id}", response_model=RuleOut)
async def get_automation(rule_id: int, services: ServicesDep) -> RuleOut:
    with refusals():
        return rule_out(await service.show_rule(services, rule_id), services.settings)


@router.put("/{rule_id}", response_model=RuleOut)
async def update_automation(rule_id: int, definition: RuleDefinition, services: ServicesDep) -> RuleOut:
    with refusals():
        return rule_out(await service.change_rule(services, rule_id, definition), services.settings)


@router.post("/{rule_id}/enable", response_model=RuleOut)
async def enable_automation(rule_id: int, services: ServicesDep) -> RuleOut:
    with refusals():
        return rule_out(await service.switch_rule(services, rule_id, True), services.settings)


@router.post("/{rule_id}/disable", response_model=RuleOut)
async def disable_automation(rule_id: int, services: ServicesDep) -> RuleOut:
    with refusals():
        return rule_out(await service.switch_rule(services, rule_id, False), services.settings)


@router.get("/{rule_id}/runs", response_model=list[RunOut])
async def list_automation_runs(
    rule_id: int, services: ServicesDep, limit: int = Query(100, ge=1, le=500)
) -> list[RunOut]:
    with refusals():
        _, runs = await service.rule_runs(services, rule_id, limit)
    return [run_out(run, services.settings) for run in runs]
