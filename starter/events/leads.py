"""Dispatcher handlers of the lead feature: CRM events reach each lead's workflow (`lead-<id>`).

- `lead.created` starts the workflow; a redelivered event finds it running (or finished) and does nothing.
- Phase changes, closing, appointments and tasks of a lead are sent by **signal-with-start**: if the workflow
  is not running (its start event still waits, or a worker lost it) the signal starts it, so no change is
  lost. Every signal carries the event id; the workflow ignores an id it has seen (redelivery).
- `sales_process.changed` signals the leads that were open under the old settings to reload them.

A lead whose workflow finished (closed or deleted) is not restarted by a late event: the id reuse policy
allows a new run only after a failed or terminated one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from db.models import DomainEvent
from starter.events.dispatcher import EventHandler
from workflows.lead import LeadWorkflow
from workflows.lead_models import (
    SIGNAL_APPOINTMENT_CREATED,
    SIGNAL_CLOSED,
    SIGNAL_CONFIG_CHANGED,
    SIGNAL_PHASE_CHANGED,
    SIGNAL_TASK_CREATED,
    AppointmentCreated,
    ConfigChanged,
    LeadClosed,
    LeadInput,
    PhaseChanged,
    TaskCreated,
    lead_workflow_id,
)
from workflows.shared import IMMOFLOW_KIND, LEAD_OVERDUE

# Signals to the leads of a changed process go out this many at a time: quick for a few thousand leads,
# without opening thousands of RPCs at once.
FAN_OUT = 32
REUSE_POLICY = WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY


class LeadEventHandlers:
    def __init__(
        self, task_queue: str | Callable[[], str], *, workflow_id: Callable[[int], str] = lead_workflow_id
    ) -> None:
        """TASK_QUEUE: the worker's queue, or a callable read at delivery (settings load after import).
        WORKFLOW_ID: lead id → workflow id; tests sharing one Temporal server give each test its own."""
        self._task_queue = task_queue
        self._workflow_id = workflow_id

    def routes(self) -> dict[str, EventHandler]:
        return {
            "lead.created": self.lead_created,
            "lead.phase_changed": self.phase_changed,
            "lead.closed": self.lead_closed,
            "appointment.created": self.appointment_created,
            "task.created": self.task_created,
            "sales_process.changed": self.process_changed,
        }

    def task_queue(self) -> str:
        return self._task_queue if isinstance(self._task_queue, str) else self._task_queue()

    async def start_or_signal(
        self, client: Client, lead_id: int, signal: str | None = None, arg: BaseModel | None = None
    ) -> None:
        """Start lead LEAD_ID's workflow, or (with SIGNAL) signal it and start it first if it is not running."""
        # Already running: for a plain start that is the point. Finished: the lead is closed, nothing to do.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                LeadWorkflow.run,
                LeadInput(lead_id=lead_id),
                id=self._workflow_id(lead_id),
                task_queue=self.task_queue(),
                id_reuse_policy=REUSE_POLICY,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(IMMOFLOW_KIND, "lead"), SearchAttributePair(LEAD_OVERDUE, False)]
                ),
                static_summary=f"Lead #{lead_id}: overdue reminders",
                static_details=f"Reminds the lead taker while lead #{lead_id} is overdue in its sales phase.",
                start_signal=signal,
                start_signal_args=[] if arg is None else [arg],
            )

    async def lead_created(self, client: Client, event: DomainEvent) -> None:
        await self.start_or_signal(client, int(event.payload["lead_id"]))

    async def phase_changed(self, client: Client, event: DomainEvent) -> None:
        signal = PhaseChanged.model_validate({**event.payload, "event_id": event.id})
        await self.start_or_signal(client, int(event.payload["lead_id"]), SIGNAL_PHASE_CHANGED, signal)

    async def lead_closed(self, client: Client, event: DomainEvent) -> None:
        signal = LeadClosed.model_validate({**event.payload, "event_id": event.id})
        await self.start_or_signal(client, int(event.payload["lead_id"]), SIGNAL_CLOSED, signal)

    async def appointment_created(self, client: Client, event: DomainEvent) -> None:
        if event.payload.get("lead_id") is None:
            return  # an appointment of no lead (viewings from the time-slot form, automations)
        signal = AppointmentCreated.model_validate(_with_defaults(event))
        await self.start_or_signal(client, int(event.payload["lead_id"]), SIGNAL_APPOINTMENT_CREATED, signal)

    async def task_created(self, client: Client, event: DomainEvent) -> None:
        if event.payload.get("lead_id") is None:
            return  # a task of no lead (inquiries, automations)
        signal = TaskCreated.model_validate(_with_defaults(event))
        await self.start_or_signal(client, int(event.payload["lead_id"]), SIGNAL_TASK_CREATED, signal)

    async def process_changed(self, client: Client, event: DomainEvent) -> None:
        signal = ConfigChanged(event_id=event.id, process_id=int(event.payload["process_id"]))
        gate = asyncio.Semaphore(FAN_OUT)

        async def reload(lead_id: int) -> None:
            async with gate:
                try:
                    await client.get_workflow_handle(self._workflow_id(lead_id)).signal(SIGNAL_CONFIG_CHANGED, signal)
                except RPCError as exc:
                    # Not running: it loads the new settings when its start event arrives; finished: closed.
                    if exc.status != RPCStatusCode.NOT_FOUND:
                        raise

        await asyncio.gather(*(reload(int(lead_id)) for lead_id in event.payload.get("lead_ids", [])))


def _with_defaults(event: DomainEvent) -> dict[str, Any]:
    """Events written by other features may lack created_at: the event's own time is the same moment."""
    return {"created_at": event.created_at, **event.payload, "event_id": event.id}
