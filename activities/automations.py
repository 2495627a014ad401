"""Activities of AutomationRunWorkflow and the birthday scan.

The run row is the record the admin page shows. Each action runs in one transaction together with the
line it adds to the run's steps, so a retried activity either finds the step done or starts from a clean
slate; a failure is written in a transaction of its own, then raised as non-retryable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from automations.actions import ActionContext, ActionError, actions, get_action
from automations.triggers import EventData, event_data, get_trigger
from db.base import utcnow
from db.birthdays import record_birthdays
from db.models import AutomationRule, AutomationRun, DomainEvent, RunOutcome
from db.session import SessionFactory
from settings import Settings
from workflows.automation_models import (
    ActionOutcome,
    ActionRequest,
    FinishRun,
    RunPlan,
    ScanRequest,
    ScanResult,
    StartRun,
)

ACTION_ERROR = "AutomationActionError"
FINISHED = frozenset({RunOutcome.SUCCEEDED, RunOutcome.FAILED, RunOutcome.CUT, RunOutcome.STOPPED})


def _not_found(what: str) -> ApplicationError:
    return ApplicationError(f"{what} existiert nicht", type="NotFound", non_retryable=True)


class AutomationActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def all(self) -> list[Callable[..., Any]]:
        return [self.start_automation_run, self.run_automation_action, self.finish_automation_run, self.scan_birthdays]

    @activity.defn(name="start_automation_run")
    async def start_automation_run(self, request: StartRun) -> RunPlan:
        """Create the run row with the event's facts and a snapshot of the rule's actions (or find it)."""
        async with self._sessions.begin() as session:
            run = await session.scalar(
                select(AutomationRun).where(
                    AutomationRun.rule_id == request.rule_id, AutomationRun.event_id == request.event_id
                )
            )
            if run is None:
                run = await self._new_run(session, request)
            elif run.outcome in FINISHED:
                # The workflow ID was free again (retention passed) but the rule ran on this event already.
                return RunPlan(run_id=run.id, action_kinds=[], already_finished=True, outcome=run.outcome)
            kinds = [str(spec["kind"]) for spec in run.actions]
            known = actions()
            labels = [known[kind].label if kind in known else kind for kind in kinds]
            return RunPlan(run_id=run.id, action_kinds=kinds, action_labels=labels)

    async def _new_run(self, session: AsyncSession, request: StartRun) -> AutomationRun:
        rule = await session.get(AutomationRule, request.rule_id)
        if rule is None:
            raise _not_found(f"Automation #{request.rule_id}")
        event = await session.get(DomainEvent, request.event_id)
        if event is None:
            raise _not_found(f"Ereignis #{request.event_id}")
        facts = await get_trigger(rule.trigger).facts(session, event_data(event))
        run = AutomationRun(
            rule_id=rule.id,
            event_id=event.id,
            event_depth=event.depth,
            trigger=rule.trigger,
            workflow_id=request.workflow_id,
            outcome=RunOutcome.RUNNING,
            started_at=utcnow(),
            facts=facts,
            actions=list(rule.actions),
            steps=[],
        )
        session.add(run)
        await session.flush()
        return run

    @activity.defn(name="run_automation_action")
    async def run_automation_action(self, request: ActionRequest) -> ActionOutcome:
        try:
            async with self._sessions.begin() as session:
                run = await session.get(AutomationRun, request.run_id)
                if run is None:
                    raise _not_found(f"Lauf #{request.run_id}")
                done = next((s for s in run.steps if s["index"] == request.index and s["status"] == "done"), None)
                if done is not None:
                    return ActionOutcome(detail=done["detail"], message_ids=done.get("message_ids", []))
                spec = run.actions[request.index]
                outcome = await self._execute(session, run, request.index, spec)
                step = {"status": "done", "detail": outcome.detail, "message_ids": outcome.message_ids}
                run.steps = [*run.steps, self._step(request.index, spec, step)]
                return outcome
        except (ActionError, ValidationError, KeyError) as exc:
            message = str(exc) if isinstance(exc, ActionError) else f"{type(exc).__name__}: {exc}"
            await self._record_failure(request, message)
            raise ApplicationError(message, type=ACTION_ERROR, non_retryable=True) from exc

    async def _execute(
        self, session: AsyncSession, run: AutomationRun, index: int, spec: dict[str, Any]
    ) -> ActionOutcome:
        event_row = await session.get(DomainEvent, run.event_id)
        # A pruned event: its facts were kept on the run, which is all the actions read.
        event = (
            event_data(event_row)
            if event_row is not None
            else EventData(id=run.event_id, kind=run.trigger, payload=dict(run.facts), depth=run.event_depth)
        )
        context = ActionContext(
            session=session,
            settings=self._settings,
            rule_id=run.rule_id,
            run_id=run.id,
            index=index,
            event=event,
            facts=dict(run.facts),
            dedupe=get_trigger(run.trigger).dedupe_key(event),
        )
        return await get_action(str(spec["kind"])).execute(context, dict(spec.get("params") or {}))

    @staticmethod
    def _step(index: int, spec: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {"index": index, "kind": spec.get("kind"), "at": utcnow().isoformat(), **values}

    async def _record_failure(self, request: ActionRequest, message: str) -> None:
        async with self._sessions.begin() as session:
            run = await session.get(AutomationRun, request.run_id)
            if run is None:
                return
            spec = run.actions[request.index] if request.index < len(run.actions) else {}
            step = self._step(request.index, spec, {"status": "failed", "detail": message})
            run.steps = [*(s for s in run.steps if s["index"] != request.index), step]

    @activity.defn(name="finish_automation_run")
    async def finish_automation_run(self, request: FinishRun) -> None:
        async with self._sessions.begin() as session:
            run = await session.get(AutomationRun, request.run_id)
            if run is None:
                raise _not_found(f"Lauf #{request.run_id}")
            if run.outcome in FINISHED:
                return  # a retry after the commit
            run.outcome = request.outcome
            run.finished_at = utcnow()
            run.error = request.error
            run.error_detail = request.error_detail

    @activity.defn(name="scan_birthdays")
    async def scan_birthdays(self, request: ScanRequest) -> ScanResult:
        day = request.day or request.at.astimezone(ZoneInfo(request.time_zone)).date()
        async with self._sessions.begin() as session:
            new, already = await record_birthdays(session, day)
        activity.logger.info("birthday scan %s: %s new, %s already greeted", day, new, already)
        return ScanResult(day=day, new_events=new, already_greeted=already)
