"""Starting and addressing time-slot request workflows from outside (API, dispatcher, prospect page)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.shared import IMMOFLOW_KIND, PROPERTY_REF
from workflows.slot_models import SlotRequestInput, SlotSnapshot, slot_workflow_id
from workflows.slot_request import TimeSlotRequestWorkflow


async def start_slot_workflow(
    client: Client, *, request_id: int, task_queue: str, property_ref: str | None = None
) -> WorkflowHandle[TimeSlotRequestWorkflow, SlotSnapshot]:
    """Start `slots-<id>`; raises WorkflowAlreadyStartedError if it runs or ever ran (REJECT_DUPLICATE:
    one link, one process, however often the API or the dispatcher asks)."""
    attributes: list[SearchAttributePair[str]] = [SearchAttributePair(IMMOFLOW_KIND, "time-slots")]
    if property_ref:
        attributes.append(SearchAttributePair(PROPERTY_REF, property_ref))
    kind = f"viewing of {property_ref}" if property_ref else "appointment"
    return await client.start_workflow(
        TimeSlotRequestWorkflow.run,
        SlotRequestInput(request_id=request_id),
        id=slot_workflow_id(request_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(attributes),
        static_summary=f"Time slots: {kind}",
        static_details=f"Time-slot request #{request_id}: the prospect proposes up to 5 slots ({kind}).",
    )


async def ensure_slot_workflow(
    client: Client, *, request_id: int, task_queue: str, property_ref: str | None = None
) -> bool:
    """Start the request's workflow unless it runs or ran already; True when this call started it."""
    try:
        await start_slot_workflow(client, request_id=request_id, task_queue=task_queue, property_ref=property_ref)
    except WorkflowAlreadyStartedError:
        return False
    return True


def slot_handle(client: Client, request_id: int) -> WorkflowHandle[TimeSlotRequestWorkflow, SlotSnapshot]:
    return client.get_workflow_handle_for(TimeSlotRequestWorkflow.run, slot_workflow_id(request_id))
