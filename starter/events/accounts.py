"""Dispatcher handler of the account mails: `user.password_link` starts the delivering workflow.

The workflow id is the outbox message's (`account-mail-<message id>`), so a redelivered event finds the
workflow started (or finished) and does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.events import PasswordLinkIssued
from db.models import DomainEvent
from starter.events.dispatcher import EventHandler
from workflows.account_mail import AccountMailWorkflow, account_mail_workflow_id
from workflows.shared import IMMOFLOW_KIND

PASSWORD_LINK_EVENT = PasswordLinkIssued.KIND


def password_link_handler(
    task_queue: Callable[[], str], *, workflow_id: Callable[[int], str] = account_mail_workflow_id
) -> EventHandler:
    async def handle(client: Client, event: DomainEvent) -> None:
        message_id = int(event.payload["message_id"])
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                AccountMailWorkflow.run,
                message_id,
                id=workflow_id(message_id),
                task_queue=task_queue(),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, "account-mail")]),
                static_summary=f"Set-password mail for user #{event.payload['user_id']}",
            )

    return handle
