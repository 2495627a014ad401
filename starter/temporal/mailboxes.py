"""Starting the mailbox watchers: one MailboxWorkflow per enabled mailbox, started idempotently."""

from __future__ import annotations

import logging

from sqlalchemy import select
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from db.events import MailboxChanged
from db.models import Mailbox
from db.session import SessionFactory
from workflows.mailbox import MailboxWorkflow, workflow_id_for
from workflows.mailbox_models import MailboxInput
from workflows.shared import IMMOFLOW_KIND

log = logging.getLogger(__name__)

MAILBOX_CHANGED_EVENT = MailboxChanged.KIND


async def ensure_mailbox_workflow(client: Client, mailbox_id: int, task_queue: str) -> None:
    """Running already: nothing to do (it reads the settings each round). Ended (disabled before): start anew."""
    await client.start_workflow(
        MailboxWorkflow.run,
        MailboxInput(mailbox_id=mailbox_id),
        id=workflow_id_for(mailbox_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, "mailbox")]),
        static_summary=f"Mailbox #{mailbox_id}",
        static_details=f"Watches mailbox #{mailbox_id} over IMAP: portal inquiries, replies, bounces.",
    )


async def sync_mailbox_workflows(client: Client, sessions: SessionFactory, task_queue: str) -> list[int]:
    """Ensure a watcher for every enabled mailbox (worker start, `immoflow mailboxes sync`)."""
    async with sessions() as session:
        ids = list(
            await session.scalars(select(Mailbox.id).where(Mailbox.enabled.is_(True), Mailbox.imap_host.is_not(None)))
        )
    for mailbox_id in ids:
        await ensure_mailbox_workflow(client, mailbox_id, task_queue)
    if ids:
        log.info("mailbox watchers ensured: %s", ", ".join(workflow_id_for(i) for i in ids))
    return ids
