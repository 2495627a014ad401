"""Dispatcher handlers of the inquiry manager.

`inquiry.received` is written with every new inquiry. The intake already tries to start the workflow;
this handler is the guarantee for when Temporal was down at that moment. Starting is idempotent
(business-key workflow ID, REJECT_DUPLICATE), so delivering the event again is harmless.
"""

from __future__ import annotations

import logging

from temporalio.client import Client

from db.models import DomainEvent
from settings import get_settings
from starter.events.dispatcher import EventHandler
from starter.intake.service import WorkflowStart
from starter.temporal.inquiries import ensure_inquiry_workflow

log = logging.getLogger(__name__)


def inquiry_received_handler(task_queue: str | None = None) -> EventHandler:
    """TASK_QUEUE: the worker's queue; None reads the settings when the event arrives (not at import)."""

    async def handle(client: Client, event: DomainEvent) -> None:
        start = WorkflowStart.from_event(event.payload)
        started = await ensure_inquiry_workflow(
            client,
            inquiry_id=start.inquiry_id,
            workflow_id=start.workflow_id,
            source=start.source,
            property_ref=start.property_ref,
            task_queue=task_queue or get_settings().task_queue,
        )
        if started:
            log.info("event %s: started %s", event.id, start.workflow_id)

    return handle
