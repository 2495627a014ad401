"""Dispatcher handlers of the office mailbox.

`inquiry.mail_reaction` (a reply or a bounce, written with the journal entry) signals the inquiry's
workflow; a workflow that has ended meanwhile needs no signal. `mailbox.changed` (the mailbox page)
starts the mailbox's watcher, or lets the running one pick up the new settings at its next round.
"""

from __future__ import annotations

import logging

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from db.models import DomainEvent
from settings import get_settings
from starter.temporal.inquiries import inquiry_handle
from starter.temporal.mailboxes import ensure_mailbox_workflow
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import MailReaction

log = logging.getLogger(__name__)


async def handle_reaction(client: Client, event: DomainEvent) -> None:
    payload = event.payload
    reaction = MailReaction(
        kind=payload["kind"], inbound_mail_id=int(payload["inbound_mail_id"]), reason=str(payload["reason"])[:300]
    )
    handle = inquiry_handle(client, str(payload["workflow_id"]))
    try:
        await handle.signal(InquiryWorkflow.mail_reaction, reaction)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: the inquiry's workflow ended, nothing to stop
            raise
        log.info("event %s: %s has ended; reaction recorded only", event.id, handle.id)
    except WorkflowFailureError:
        log.info("event %s: %s has ended; reaction recorded only", event.id, handle.id)


async def handle_mailbox_changed(client: Client, event: DomainEvent) -> None:
    if event.payload.get("enabled"):
        await ensure_mailbox_workflow(client, int(event.payload["mailbox_id"]), get_settings().task_queue)
