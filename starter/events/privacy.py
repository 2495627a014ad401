"""Dispatcher handlers of the prospect's rights: the opt-in mail, and stopping follow-ups on objection."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.models import DomainEvent
from settings import get_settings
from starter.events.dispatcher import EventHandler
from starter.services.privacy import objection_reason, stop_inquiries
from workflows.consent import ConsentInput, ConsentMailWorkflow, consent_workflow_id
from workflows.shared import IMMOFLOW_KIND

log = logging.getLogger(__name__)


def consent_requested_handler(task_queue: str | None = None) -> EventHandler:
    """TASK_QUEUE: the worker's queue; None reads the settings when the event arrives (not at import)."""

    async def handle(client: Client, event: DomainEvent) -> None:
        await start_consent_mail(client, event, task_queue or get_settings().task_queue)

    return handle


async def start_consent_mail(client: Client, event: DomainEvent, task_queue: str) -> None:
    consent_id = int(event.payload["consent_id"])
    try:
        await client.start_workflow(
            ConsentMailWorkflow.run,
            ConsentInput(consent_id=consent_id),
            id=consent_workflow_id(consent_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, "consent")]),
            static_summary=f"Double opt-in mail of consent #{consent_id}",
        )
    except WorkflowAlreadyStartedError:
        log.info("event %s: consent mail %s already started", event.id, consent_id)


async def stop_after_objection(client: Client, event: DomainEvent) -> None:
    ids = [str(i) for i in event.payload.get("inquiry_workflow_ids", [])]
    await stop_inquiries(client, ids, objection_reason(str(event.payload.get("scope", "all"))))
