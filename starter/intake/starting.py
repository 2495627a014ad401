"""Starting an inquiry's workflow from the intake: the one place that binds intake to Temporal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio.client import Client

from starter.intake.service import WorkflowStart, WorkflowStarter
from starter.temporal.inquiries import ensure_inquiry_workflow


def temporal_starter(connect: Callable[[], Awaitable[Client]], task_queue: str) -> WorkflowStarter:
    """CONNECT is awaited per start, so a web app that came up while Temporal was down recovers by itself."""

    async def start(request: WorkflowStart) -> bool:
        client = await connect()
        return await ensure_inquiry_workflow(
            client,
            inquiry_id=request.inquiry_id,
            workflow_id=request.workflow_id,
            source=request.source,
            property_ref=request.property_ref,
            task_queue=task_queue,
        )

    return start
