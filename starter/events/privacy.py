"""Dispatcher handlers of the prospect's rights: the opt-in mail, and stopping follow-ups on objection.

The objection handler reads and writes through the session the dispatcher loaded the event with (as the
automations' handler does): on SQLite a second connection would wait for the dispatcher's transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import async_object_session
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.models import DomainEvent, Objection
from settings import get_settings
from starter.events.dispatcher import EventHandler
from starter.services.privacy import (
    automation_runs_to_stop,
    objection_reason,
    stop_automation_runs,
    stop_inquiries,
)
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
    """Cancel the objector's running inquiries and stop their automation runs, each with the reason."""
    reason = objection_reason(str(event.payload.get("scope", "all")))
    ids = [str(i) for i in event.payload.get("inquiry_workflow_ids", [])]
    await stop_inquiries(client, ids, reason)
    session = async_object_session(event)
    if session is None:
        raise RuntimeError(f"event {event.id} is not attached to the dispatcher's session")
    objection = await session.get(Objection, int(event.payload["objection_id"]))
    if objection is None:  # erased with its contact meanwhile: the erasure ended the workflows
        return
    runs = await automation_runs_to_stop(session, objection)
    stopped = await stop_automation_runs(client, session, runs, reason, objection_id=objection.id)
    if stopped:
        log.info("event %s: objection #%s stopped %s", event.id, objection.id, ", ".join(stopped))
