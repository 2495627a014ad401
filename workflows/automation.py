"""AutomationRunWorkflow: one rule on one event (seed 003), id `automation-<rule>-<event>`.

start run (facts + snapshot of the actions) ──► action 1 ──► mails it queued are delivered ──► action 2 …
──► finish: succeeded, or failed with the error and which action it was (shown on /automations).

The workflow ID is the business key, started with REJECT_DUPLICATE: a redelivered event never runs a rule
twice. Actions are activities that record their own step, so a retried activity does not act twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior
from temporalio.exceptions import ActivityError

from workflows.delivery import deliver
from workflows.policies import DB_RETRY, DB_TIMEOUT, failure_detail, failure_message

with workflow.unsafe.imports_passed_through():
    from activities.automations import AutomationActivities
    from workflows.automation_models import (
        ActionRequest,
        AutomationRunInput,
        FinishRun,
        RunResult,
        StartRun,
    )

# An action failing in an unexpected way (a bug, a constraint) gets a few tries, then the run shows the
# error instead of retrying out of sight; its expected failures are non-retryable from the start.
ACTION_TIMEOUT = timedelta(seconds=60)
ACTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2), maximum_attempts=6
)
# Mails go through workflows/delivery.py (one delivery policy for every workflow that mails).


# Pinned: a run lasts seconds; finishing on the code that started it keeps each action's step record consistent.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class AutomationRunWorkflow:
    def __init__(self) -> None:
        self._run_id = 0

    @workflow.run
    async def run(self, params: AutomationRunInput) -> RunResult:
        start = StartRun(rule_id=params.rule_id, event_id=params.event_id, workflow_id=workflow.info().workflow_id)
        plan = await workflow.execute_activity_method(
            AutomationActivities.start_automation_run,
            start,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary="record run start",
        )
        self._run_id = plan.run_id
        if plan.already_finished:
            workflow.set_current_details(f"run #{plan.run_id} had already ended ({plan.outcome})")
            return RunResult(run_id=plan.run_id, outcome=plan.outcome or "succeeded")
        total = len(plan.action_kinds)
        for index, kind in enumerate(plan.action_kinds):
            label = plan.action_labels[index] if index < len(plan.action_labels) else kind
            position = f"Aktion {index + 1}/{total} ({label})"  # the office reads it in the run's error
            workflow.set_current_details(f"run #{plan.run_id}: action {index + 1}/{total} ({kind})")
            try:
                await self._action(index, kind)
            except ActivityError as err:
                message, detail = failure_message(err), failure_detail(err)
                return await self._finish("failed", f"{position}: {message}", detail)
        return await self._finish("succeeded")

    async def _action(self, index: int, kind: str) -> None:
        outcome = await workflow.execute_activity_method(
            AutomationActivities.run_automation_action,
            ActionRequest(run_id=self._run_id, index=index),
            start_to_close_timeout=ACTION_TIMEOUT,
            retry_policy=ACTION_RETRY,
            summary=f"action {index + 1}: {kind}",
        )
        for message_id in outcome.message_ids:
            await deliver(message_id, f"deliver message {message_id}")

    async def _finish(self, outcome: str, error: str | None = None, detail: str | None = None) -> RunResult:
        finish = FinishRun.model_validate(
            {"run_id": self._run_id, "outcome": outcome, "error": error, "error_detail": detail}
        )
        await workflow.execute_activity_method(
            AutomationActivities.finish_automation_run,
            finish,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"record run {outcome}",
        )
        state = "succeeded" if outcome == "succeeded" else f"failed: {error}"
        workflow.set_current_details(f"run #{self._run_id} {state}")
        return RunResult(run_id=self._run_id, outcome=outcome, error=error)
