"""The admin form of a rule: from posted fields to a RuleDefinition, and from a rule back to the fields.

Field names: `cond-<i>-field|op|value` for conditions (a row without a field is ignored) and
`action-<i>-kind` plus `action-<i>-<kind>-<param>` for actions (a row without a kind is ignored). Each
action kind has its own inputs in the page; only the chosen kind's are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from automations.actions import FormField, actions
from db.models import AutomationRule
from workflows.automation_models import RuleDefinition

MAX_ROWS = 10
ONE_OF_SEPARATOR = ";"


@dataclass
class RuleForm:
    name: str = ""
    description: str = ""
    trigger: str = ""
    enabled: bool = False
    conditions: list[dict[str, str]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def padded(self) -> RuleForm:
        """With empty rows to fill in: at least three condition rows and one spare action row."""
        conditions = [*self.conditions]
        while len(conditions) < max(3, len(self.conditions) + 1) and len(conditions) < MAX_ROWS:
            conditions.append({"field": "", "op": "equals", "value": ""})
        # The page compares strings: params as the inputs show them ("true", "12").
        rows = [
            {"kind": row["kind"], "params": {k: _text(v) for k, v in row["params"].items()}} for row in self.actions
        ]
        if len(rows) < MAX_ROWS:
            rows.append({"kind": "", "params": {}})
        return RuleForm(self.name, self.description, self.trigger, self.enabled, conditions, rows, self.errors)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_of(rule: AutomationRule) -> RuleForm:
    conditions = []
    for raw in rule.conditions:
        value = raw.get("value")
        text = f"{ONE_OF_SEPARATOR} ".join(value) if isinstance(value, list) else _text(value)
        conditions.append({"field": str(raw.get("field", "")), "op": str(raw.get("op", "equals")), "value": text})
    specs = [
        {"kind": str(spec.get("kind", "")), "params": {k: v for k, v in (spec.get("params") or {}).items()}}
        for spec in rule.actions
    ]
    return RuleForm(rule.name, rule.description or "", rule.trigger, rule.enabled, conditions, specs)


def _rows(data: Mapping[str, str], prefix: str) -> list[int]:
    indexes = set()
    for key in data:
        head, _, rest = key.partition("-")
        number, _, _ = rest.partition("-")
        if head == prefix and number.isdigit() and int(number) < MAX_ROWS:
            indexes.add(int(number))
    return sorted(indexes)


def _params(data: Mapping[str, str], index: int, kind: str, fields: tuple[FormField, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for form_field in fields:
        key = f"action-{index}-{kind}-{form_field.name}"
        if form_field.kind == "checkbox":
            params[form_field.name] = key in data
            continue
        value = data.get(key, "").strip()
        if value:
            params[form_field.name] = value
    return params


def parse_form(data: Mapping[str, str]) -> tuple[RuleForm, RuleDefinition | None]:
    """The form as posted (for showing it again) and the definition, or None with the form's errors set."""
    form = RuleForm(
        name=data.get("name", "").strip(),
        description=data.get("description", "").strip(),
        trigger=data.get("trigger", ""),
        enabled=data.get("enabled", "") in ("1", "true", "on"),
    )
    for index in _rows(data, "cond"):
        name = data.get(f"cond-{index}-field", "").strip()
        if name:
            op = data.get(f"cond-{index}-op", "equals")
            form.conditions.append({"field": name, "op": op, "value": data.get(f"cond-{index}-value", "").strip()})
    known = actions()
    for index in _rows(data, "action"):
        kind = data.get(f"action-{index}-kind", "")
        if kind:
            action = known.get(kind)
            params = _params(data, index, kind, action.form) if action else {}
            form.actions.append({"kind": kind, "params": params})
    conditions = [
        {**c, "value": [v.strip() for v in c["value"].split(ONE_OF_SEPARATOR)] if c["op"] == "one_of" else c["value"]}
        for c in form.conditions
    ]
    try:
        definition = RuleDefinition.model_validate(
            {
                "name": form.name,
                "description": form.description or None,
                "trigger": form.trigger,
                "enabled": form.enabled,
                "conditions": conditions,
                "actions": form.actions,
            }
        )
    except ValidationError as exc:
        form.errors = [_message(error) for error in exc.errors()]
        return form, None
    return form, definition


_FIELD_LABELS = {"name": "Name", "trigger": "Auslöser", "conditions": "Bedingung", "actions": "Aktionen"}


def _message(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = _FIELD_LABELS.get(loc[0], loc[0]) if loc else "Eingabe"
    if len(loc) > 1 and loc[1].isdigit():
        where += f" {int(loc[1]) + 1}"
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if error.get("type") == "too_short" and loc and loc[0] == "actions":
        message = "mindestens eine Aktion wählen"
    return f"{where}: {message}"
