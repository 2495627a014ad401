"""The automations' contract (seed 003): rule definitions as stored and edited, and what the run workflow,
its activities and the birthday scan exchange.

Only IDs, kinds and outcomes travel through Temporal; the event's data (names, emails) stays in the database.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

BIRTHDAY_TRIGGER = "birthday"


class ConditionOp(StrEnum):
    EQUALS = "equals"
    ONE_OF = "one_of"
    CONTAINS = "contains"


class Condition(BaseModel):
    """FIELD (a fact of the trigger's event) compared with VALUE; text compares case-insensitively."""

    field: str = Field(min_length=1, max_length=60)
    op: ConditionOp = ConditionOp.EQUALS
    value: str | list[str]

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op == ConditionOp.ONE_OF:
            values = [self.value] if isinstance(self.value, str) else self.value
            cleaned = [v.strip() for v in values if v.strip()]
            if not cleaned:
                raise ValueError("„eines von“ braucht mindestens einen Wert")
            self.value = cleaned
        elif not isinstance(self.value, str):
            raise ValueError(f"„{self.op.value}“ vergleicht mit genau einem Wert")
        return self


class ActionSpec(BaseModel):
    kind: str = Field(min_length=1, max_length=60)
    params: dict[str, Any] = Field(default_factory=dict)


class RuleDefinition(BaseModel):
    """A rule as the API and the form write it; triggers, fields and action params are checked on top."""

    name: str = Field(min_length=1, max_length=300)
    description: str | None = Field(None, max_length=5000)
    trigger: str = Field(min_length=1, max_length=60)
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    actions: list[ActionSpec] = Field(min_length=1, max_length=10)
    enabled: bool = False


def automation_workflow_id(rule_id: int, event_id: int) -> str:
    """The business key: one run per (rule, event), however often the event is delivered."""
    return f"automation-{rule_id}-{event_id}"


class AutomationRunInput(BaseModel):
    rule_id: int
    event_id: int


class StartRun(BaseModel):
    rule_id: int
    event_id: int
    workflow_id: str


class RunPlan(BaseModel):
    """The run's snapshot: the rule's actions as they were when it started (editing the rule later is safe)."""

    run_id: int
    action_kinds: list[str]
    action_labels: list[str] = Field(default_factory=list, description="German, for the run's error text.")
    already_finished: bool = False
    outcome: str | None = None


class ActionRequest(BaseModel):
    run_id: int
    index: int


class ActionOutcome(BaseModel):
    detail: str
    message_ids: list[int] = Field(default_factory=list)


class FinishRun(BaseModel):
    run_id: int
    outcome: Literal["succeeded", "failed", "stopped"]
    error: str | None = None
    error_detail: str | None = None


class StopRun(BaseModel):
    """Stop a running run before its next step (the `stop` update); REASON is shown on the run's page."""

    reason: str = Field(min_length=1, max_length=500)
    objection_id: int | None = None


class RunResult(BaseModel):
    run_id: int
    outcome: str
    error: str | None = None


class BirthdayScanInput(BaseModel):
    """TIME_ZONE: whose calendar day counts; DAY: scan that day instead of today's (tests, catching up)."""

    time_zone: str = "Europe/Berlin"
    day: date | None = None


class ScanRequest(BaseModel):
    time_zone: str
    day: date | None
    at: datetime


class ScanResult(BaseModel):
    day: date
    new_events: int
    already_greeted: int
