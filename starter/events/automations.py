"""Dispatcher handlers of the automations: every trigger's event starts one run per matching rule.

For an event the handler reads the enabled rules of its trigger, computes the event's facts once, and
starts `AutomationRunWorkflow` with the id `automation-<rule>-<event>` for each rule whose conditions hold.
REJECT_DUPLICATE makes a redelivered event a no-op ("already started" is success), and the run row is
checked first, which also covers a workflow ID that became free again after the retention period.

Loop guard: events caused by automation actions carry depth = cause's depth + 1. From MAX_DEPTH on, no
rule starts; each rule that would have fired gets a run row with outcome "cut" that says why.

The handler reads and writes through the session the dispatcher loaded the event with: on SQLite a
second connection would wait for the dispatcher's open write transaction, and on PostgreSQL the rows
it writes commit together with the event being marked done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_object_session
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from automations.rules import rule_conditions
from automations.triggers import event_data, triggers
from db.base import utcnow
from db.models import AutomationRule, AutomationRun, DomainEvent, RunOutcome
from domain.automation_matching import rule_matches
from workflows.automation import AutomationRunWorkflow
from workflows.automation_models import AutomationRunInput, automation_workflow_id
from workflows.shared import IMMOFLOW_KIND

log = logging.getLogger(__name__)


class AutomationEventHandler:
    def __init__(self, task_queue: str | Callable[[], str], max_depth: int | Callable[[], int]) -> None:
        """Both may be callables read at delivery (settings are loaded after this module is imported)."""
        self._task_queue = task_queue
        self._max_depth = max_depth

    def task_queue(self) -> str:
        return self._task_queue if isinstance(self._task_queue, str) else self._task_queue()

    def max_depth(self) -> int:
        return self._max_depth if isinstance(self._max_depth, int) else self._max_depth()

    async def __call__(self, client: Client, event: DomainEvent) -> None:
        session = async_object_session(event)
        if session is None:
            raise RuntimeError(f"event {event.id} is not attached to the dispatcher's session")
        trigger = triggers()[event.kind]
        rules = list(
            await session.scalars(
                select(AutomationRule)
                .where(AutomationRule.trigger == event.kind, AutomationRule.enabled.is_(True))
                .order_by(AutomationRule.id)
            )
        )
        if not rules:
            return
        data = event_data(event)
        facts = await trigger.facts(session, data)
        for rule in rules:
            try:
                conditions = rule_conditions(rule)
            except ValidationError:
                # Only a hand-edited row gets here (the API and the form check conditions): skip this rule
                # instead of holding the event, and every other rule on it, in the retry loop.
                log.error("automation %s has invalid conditions; skipped for event %s", rule.id, event.id)
                continue
            if not rule_matches(conditions, facts):
                continue
            existing = await session.scalar(
                select(AutomationRun.id).where(AutomationRun.rule_id == rule.id, AutomationRun.event_id == event.id)
            )
            if existing is not None:
                continue  # ran (or was cut) on an earlier delivery
            if event.depth >= self.max_depth():
                await self._cut(session, rule, event, facts)
            else:
                await self._start(client, rule, event)

    def workflow_id(self, rule_id: int, event_id: int) -> str:
        return automation_workflow_id(rule_id, event_id)

    async def _start(self, client: Client, rule: AutomationRule, event: DomainEvent) -> None:
        workflow_id = self.workflow_id(rule.id, event.id)
        try:
            await client.start_workflow(
                AutomationRunWorkflow.run,
                AutomationRunInput(rule_id=rule.id, event_id=event.id),
                id=workflow_id,
                task_queue=self.task_queue(),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, "automation")]),
                static_summary=f"Automation #{rule.id} on event #{event.id} ({event.kind})",
                static_details=f"Runs the actions of automation rule #{rule.id} once for domain event #{event.id}.",
            )
        except WorkflowAlreadyStartedError:
            return
        log.info("event %s (%s): started %s", event.id, event.kind, workflow_id)

    async def _cut(
        self, session: AsyncSession, rule: AutomationRule, event: DomainEvent, facts: dict[str, Any]
    ) -> None:
        limit = self.max_depth()
        reason = (
            f"Schleifenschutz: Dieses Ereignis ist das Ergebnis von {event.depth} Automationen nacheinander "
            f"(Grenze: {limit}); die Automation wurde nicht ausgeführt."
        )
        now = utcnow()
        session.add(
            AutomationRun(
                rule_id=rule.id,
                event_id=event.id,
                event_depth=event.depth,
                trigger=rule.trigger,
                workflow_id=None,
                outcome=RunOutcome.CUT,
                started_at=now,
                finished_at=now,
                facts=facts,
                actions=list(rule.actions),
                steps=[],
                error=reason,
                error_detail=(
                    f"event #{event.id} ({event.kind}): depth {event.depth} >= IMMOFLOW_AUTOMATION_MAX_DEPTH {limit}"
                ),
            )
        )
        await session.flush()
        log.warning("event %s (%s): automation %s cut by the loop guard", event.id, event.kind, rule.id)
