"""Making a time-slot request and choosing one of its proposals: what the JSON API and the office pages share.

Both answer the same way; only the form differs (JSON and status codes there, flash messages and redirects
on the pages), so the rules live here once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Activity, InboundMail, Property
from db.slot_store import NewSlotRequest, SlotRequestError, create_slot_request
from starter.services.context import Services
from starter.temporal.slots import ensure_slot_workflow, slot_handle
from workflows.slot_models import ChooseSlot
from workflows.slot_request import TimeSlotRequestWorkflow

log = logging.getLogger(__name__)

# The choice answers once the appointment exists and the confirmation is out; a slow SMTP server
# should not hold the agent's request: after this long the answer is "pending" and the workflow goes on.
CHOOSE_WAIT_SECONDS = 15.0
# Accepting is the validator on a worker: milliseconds when one runs; past this none does.
ACCEPT_TIMEOUT_SECONDS = 10.0
NO_WORKER = "Der Workflow-Dienst antwortet gerade nicht. Bitte in einer Minute erneut versuchen."
CHOICE_REJECTIONS = {"InvalidSlot": 422, "SlotPassed": 409, "AlreadyChosen": 409, "NotChoosable": 409}
CLOSED = "Die Terminanfrage ist abgeschlossen; es kann kein Termin mehr gewählt werden"


@dataclass(frozen=True)
class MailReply:
    """A prospect's mail about the request (a reply to its mails, or from its contact while it waited)."""

    inbound_mail_id: int
    received_at: datetime
    sender: str | None
    subject: str | None
    text: str | None


async def mail_replies(services: Services, request_id: int) -> list[MailReply]:
    """Oldest first, as a conversation reads."""
    async with services.sessions() as session:
        rows = await session.execute(
            select(InboundMail, Activity.text)
            .outerjoin(Activity, Activity.id == InboundMail.activity_id)
            .where(InboundMail.slot_request_id == request_id)
            .order_by(InboundMail.id)
        )
        return [
            MailReply(
                inbound_mail_id=mail.id,
                received_at=mail.created_at,
                sender=mail.sender,
                subject=mail.subject,
                text=text,
            )
            for mail, text in rows.all()
        ]


@dataclass(frozen=True)
class Created:
    request_id: int
    workflow_started: bool


async def make_request(services: Services, data: NewSlotRequest, now: datetime) -> Created:
    """Store the request with its `slot_request.created` event, then start `slots-<id>`.

    Raises SlotRequestError (with the HTTP status) for a request that cannot be made. When Temporal is
    down the request stays stored and the dispatcher starts its workflow from the event.
    """
    async with services.sessions.begin() as session:
        row = await create_slot_request(session, data, now=now)
        prop = await session.get(Property, row.property_id) if row.property_id else None
        ref = prop.external_ref if prop else None
    started = False
    try:
        client = await services.temporal()
        started = await ensure_slot_workflow(
            client, request_id=row.id, task_queue=services.settings.task_queue, property_ref=ref
        )
    except (RPCError, RuntimeError) as exc:
        log.warning("slot request %s stored, workflow not started yet: %s", row.id, exc)
    return Created(request_id=row.id, workflow_started=started)


class ChoiceRefusedError(Exception):
    """The workflow refused the choice; STATUS is what the API answers, the message is for the agent."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def choose(services: Services, request_id: int, choice: ChooseSlot) -> bool:
    """The agent picks one proposal; True once the appointment and confirmation are done, False while pending.

    Raises ChoiceRefusedError when the workflow refuses (unknown slot, passed, already chosen, closed).
    """
    client = await services.temporal()
    try:
        async with asyncio.timeout(ACCEPT_TIMEOUT_SECONDS):
            update = await slot_handle(client, request_id).start_update(
                TimeSlotRequestWorkflow.choose, choice, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:  # the SDK turns the cancel into this
        raise ChoiceRefusedError(503, NO_WORKER) from exc
    except WorkflowUpdateFailedError as exc:
        raise _refused(exc) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise ChoiceRefusedError(409, CLOSED) from exc
    try:
        await asyncio.wait_for(update.result(), timeout=CHOOSE_WAIT_SECONDS)
    except WorkflowUpdateFailedError as exc:
        raise _refused(exc) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise ChoiceRefusedError(409, CLOSED) from exc
    except TimeoutError:
        return False
    return True


def _refused(exc: WorkflowUpdateFailedError) -> ChoiceRefusedError:
    cause = exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(exc)
    return ChoiceRefusedError(CHOICE_REJECTIONS.get(kind or "", 409), message)


__all__ = ["ChoiceRefusedError", "Created", "SlotRequestError", "choose", "make_request"]
