"""AutomationRunWorkflow: one rule on one event (seed 003), id `automation-<rule>-<event>`.

start run (facts + snapshot of the actions) ──► action 1 ──► mails it queued are delivered ──► action 2 …
──► finish: succeeded, or failed with the error and which action it was (shown on /automations).

A validated `stop` update (the contact objected) ends the run before its next action or delivery: mails
composed but not yet delivered are withdrawn, and the run row says `stopped` with the reason. Cancelling the
workflow in Temporal finishes the row the same way before the cancellation ends it.

The workflow ID is the business key, started with REJECT_DUPLICATE: a redelivered event never runs a rule
twice. Actions are activities that record their own step, so a retried activity does not act twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior
from temporalio.exceptions import ActivityError, is_cancelled_exception

from workflows.delivery import deliver, withdraw
from workflows.policies import DB_RETRY, DB_TIMEOUT, RejectedError, failure_detail, failure_message

with workflow.unsafe.imports_passed_through():
    from activities.automations import AutomationActivities
    from workflows.automation_models import (
        ActionRequest,
        AutomationRunInput,
        FinishRun,
        RunResult,
        StartRun,
        StopRun,
    )

# An action failing in an unexpected way (a bug, a constraint) gets a few tries, then the run shows the
# error instead of retrying out of sight; its expected failures are non-retryable from the start.
ACTION_TIMEOUT = timedelta(seconds=60)
ACTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2), maximum_attempts=6
)
# Mails go through workflows/delivery.py (one delivery policy for every workflow that mails).

# Patch ID of "a run can be stopped (update `stop`) or cancelled and says so on its row"; runs started
# before it replay on the old path and cannot be stopped (the update is refused, the outbox still suppresses).
STOP_PATCH = "automation-stop"
CANCELLED_REASON = "Workflow in Temporal abgebrochen"


# Pinned: a run lasts seconds; finishing on the code that started it keeps each action's step record consistent.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class AutomationRunWorkflow:
    def __init__(self) -> None:
        self._run_id = 0
        self._stoppable = False
        self._stop: StopRun | None = None
        self._finishing = False

    @workflow.run
    async def run(self, params: AutomationRunInput) -> RunResult:
        self._stoppable = workflow.patched(STOP_PATCH)
        if not self._stoppable:
            return await self._run(params)
        try:
            return await self._run(params)
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancelled_exception(err):
                raise
            if self._run_id:  # a row finished meanwhile stays as it is (the activity is idempotent)
                await self._finish("stopped", CANCELLED_REASON, "workflow cancellation requested")
            raise

    async def _run(self, params: AutomationRunInput) -> RunResult:
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
            self._finishing = True
            workflow.set_current_details(f"run #{plan.run_id} had already ended ({plan.outcome})")
            return RunResult(run_id=plan.run_id, outcome=plan.outcome or "succeeded")
        total = len(plan.action_kinds)
        for index, kind in enumerate(plan.action_kinds):
            label = plan.action_labels[index] if index < len(plan.action_labels) else kind
            position = f"Aktion {index + 1}/{total} ({label})"  # the office reads it in the run's error
            if self._stop is not None:  # only set on the patched path (the validator refuses it otherwise)
                return await self._finish("stopped", self._stop.reason, f"stopped before action {index + 1}/{total}")
            workflow.set_current_details(f"run #{plan.run_id}: action {index + 1}/{total} ({kind})")
            try:
                withdrawn = await self._action(index, kind)
            except ActivityError as err:
                if self._stoppable and is_cancelled_exception(err):
                    raise  # the workflow was cancelled, the action did not fail
                message, detail = failure_message(err), failure_detail(err)
                return await self._finish("failed", f"{position}: {message}", detail)
            if self._stop is not None and (withdrawn or index + 1 < total):
                return await self._finish("stopped", self._stop.reason, f"stopped after action {index + 1}/{total}")
        return await self._finish("succeeded")

    @workflow.update
    async def stop(self, request: StopRun) -> None:
        """Stop at the next step; answers at once (the run finishes its current activity first)."""
        self._stop = request

    @stop.validator
    def _validate_stop(self, request: StopRun) -> None:
        if not self._stoppable:
            raise RejectedError("NotStoppable", "Dieser Lauf stammt von einer älteren Version und läuft zu Ende.")
        if self._finishing:
            raise RejectedError("AlreadyFinished", "Der Lauf ist bereits beendet.")
        if self._stop is not None:
            raise RejectedError("AlreadyStopping", "Der Lauf wird bereits gestoppt.")

    async def _action(self, index: int, kind: str) -> bool:
        """True when a stop withdrew some of the action's mails."""
        outcome = await workflow.execute_activity_method(
            AutomationActivities.run_automation_action,
            ActionRequest(run_id=self._run_id, index=index),
            start_to_close_timeout=ACTION_TIMEOUT,
            retry_policy=ACTION_RETRY,
            summary=f"action {index + 1}: {kind}",
        )
        withdrawn = False
        for message_id in outcome.message_ids:
            if self._stop is not None:  # the action's record stays; its mails are not sent any more
                await withdraw(message_id, f"withdraw message {message_id} (run stopped)")
                withdrawn = True
                continue
            await deliver(message_id, f"deliver message {message_id}")
        return withdrawn

    async def _finish(self, outcome: str, error: str | None = None, detail: str | None = None) -> RunResult:
        self._finishing = True
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
        state = "succeeded" if outcome == "succeeded" else f"{outcome}: {error}"
        workflow.set_current_details(f"run #{self._run_id} {state}")
        return RunResult(run_id=self._run_id, outcome=outcome, error=error)
