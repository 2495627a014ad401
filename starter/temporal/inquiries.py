"""Starting and addressing inquiry workflows from outside (intake, dispatcher, web actions)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import InquiryInput, InquirySnapshot
from workflows.shared import IMMOFLOW_KIND, INQUIRY_STATUS, PORTAL, PROPERTY_REF


async def start_inquiry_workflow(
    client: Client,
    *,
    inquiry_id: int,
    workflow_id: str,
    source: str,
    property_ref: str | None,
    task_queue: str,
) -> WorkflowHandle[InquiryWorkflow, InquirySnapshot]:
    """Start the inquiry's workflow; raises WorkflowAlreadyStartedError if it runs or ever ran.

    REJECT_DUPLICATE: a portal that resends a finished inquiry must not start it a second time.
    """
    attributes: list[SearchAttributePair[str]] = [
        SearchAttributePair(IMMOFLOW_KIND, "inquiry"),
        SearchAttributePair(INQUIRY_STATUS, "received"),
        SearchAttributePair(PORTAL, source),
    ]
    if property_ref:
        attributes.append(SearchAttributePair(PROPERTY_REF, property_ref))
    return await client.start_workflow(
        InquiryWorkflow.run,
        InquiryInput(inquiry_id=inquiry_id),
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(attributes),
        static_summary=f"Inquiry {property_ref or '(no property)'} from {source}",
        static_details=f"Inquiry #{inquiry_id}: portal {source}, property {property_ref or 'unknown'}.",
    )


async def ensure_inquiry_workflow(
    client: Client,
    *,
    inquiry_id: int,
    workflow_id: str,
    source: str,
    property_ref: str | None,
    task_queue: str,
) -> bool:
    """Start the inquiry's workflow unless it runs or ran already. Returns True when this call started it."""
    try:
        await start_inquiry_workflow(
            client,
            inquiry_id=inquiry_id,
            workflow_id=workflow_id,
            source=source,
            property_ref=property_ref,
            task_queue=task_queue,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def inquiry_handle(client: Client, workflow_id: str) -> WorkflowHandle[InquiryWorkflow, InquirySnapshot]:
    return client.get_workflow_handle_for(InquiryWorkflow.run, workflow_id)
