"""Rules as stored: checking a definition against the registered triggers and actions, the shipped rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from automations.actions import actions, get_action
from automations.triggers import triggers
from db.base import utcnow
from db.models import AutomationRule
from domain.automation_builtin import BUILTIN_RULES
from workflows.automation_models import ActionSpec, Condition, RuleDefinition


class RuleInvalidError(ValueError):
    """A definition that names an unknown trigger, field or action, or gives an action bad settings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _pydantic_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'Eingabe'}: {error['msg']}" for error in exc.errors()
    )


def check_definition(definition: RuleDefinition) -> RuleDefinition:
    """DEFINITION with every action's params normalised by its model; RuleInvalidError lists all problems."""
    errors: list[str] = []
    trigger = triggers().get(definition.trigger)
    if trigger is None:
        errors.append(f"Unbekannter Auslöser „{definition.trigger}“ (möglich: {', '.join(triggers())})")
    else:
        for condition in definition.conditions:
            if condition.field not in trigger.field_names():
                allowed = ", ".join(sorted(trigger.field_names())) or "keine"
                errors.append(
                    f"Bedingung: „{condition.field}“ gibt es bei „{trigger.label}“ nicht (möglich: {allowed})"
                )
    normalised: list[ActionSpec] = []
    for position, spec in enumerate(definition.actions, start=1):
        action = actions().get(spec.kind)
        if action is None:
            errors.append(f"Aktion {position}: unbekannte Aktion „{spec.kind}“ (möglich: {', '.join(actions())})")
            continue
        try:
            params = action.parse(spec.params)
        except ValidationError as exc:
            errors.append(f"Aktion {position} ({action.label}): {_pydantic_errors(exc)}")
            continue
        normalised.append(ActionSpec(kind=spec.kind, params=params.model_dump(mode="json", exclude_none=True)))
    if errors:
        raise RuleInvalidError(errors)
    return definition.model_copy(update={"actions": normalised})


def rule_conditions(rule: AutomationRule) -> list[Condition]:
    return [Condition.model_validate(raw) for raw in rule.conditions]


def action_summaries(specs: list[dict[str, Any]], user_names: Mapping[int, str] | None = None) -> list[str]:
    summaries = []
    for spec in specs:
        try:
            summaries.append(get_action(str(spec.get("kind"))).describe(dict(spec.get("params") or {}), user_names))
        except KeyError:
            summaries.append(f"Unbekannte Aktion „{spec.get('kind')}“")
    return summaries


def apply_definition(rule: AutomationRule, definition: RuleDefinition) -> AutomationRule:
    """Write a checked definition onto RULE (new or existing)."""
    rule.name = definition.name.strip()
    rule.description = definition.description
    rule.trigger = definition.trigger
    rule.conditions = [c.model_dump(mode="json") for c in definition.conditions]
    rule.actions = [a.model_dump(mode="json") for a in definition.actions]
    rule.enabled = definition.enabled
    rule.updated_at = utcnow()
    return rule


async def ensure_builtin_rules(session: AsyncSession) -> list[str]:
    """Add the shipped rules that are missing, disabled; never touches one the office edited. Caller commits."""
    keys = select(AutomationRule.builtin_key).where(AutomationRule.builtin_key.is_not(None))
    present = set(await session.scalars(keys))
    added = []
    for data in BUILTIN_RULES:
        if data["builtin_key"] in present:
            continue
        definition = check_definition(RuleDefinition.model_validate({**data, "enabled": False}))
        session.add(apply_definition(AutomationRule(builtin_key=data["builtin_key"]), definition))
        added.append(str(data["builtin_key"]))
    await session.flush()
    return added
