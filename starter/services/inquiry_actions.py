"""The agent's actions on an inquiry (resend the confirmation, cancel, "not a duplicate") as workflow updates.

Each is a validated `@workflow.update`: its validator refuses what is not possible (NotWaiting,
AlreadyFinished, NotDuplicate) before anything enters history. The refusal and every way the call can
fail come back as an InquiryActionError subclass, for the caller to word (web.pages.inquiry_actions).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Inquiry
from starter.services.context import Services
from starter.temporal.inquiries import inquiry_handle
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import CancelInput, InquirySnapshot

# Accepting is the validator on the worker: quick, unless no worker runs at all.
ACCEPT_TIMEOUT_SECONDS = 10.0
# Resend answers after the mail went out; past this the page says "accepted, in progress" instead of waiting.
RESULT_TIMEOUT_SECONDS = 20.0


class InquiryActionError(Exception):
    """The action did not happen."""


class InquiryMissingError(InquiryActionError):
    """No inquiry with this id."""


class ActionRefusedError(InquiryActionError):
    """The workflow's validator (or handler) refused; REASON is its message, meant for the agent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WorkflowFinishedError(InquiryActionError):
    """The workflow has closed: there is nothing left to act on."""


class WorkflowUnavailableError(InquiryActionError):
    """Temporal cannot be reached (or refused the call for another reason)."""


class NoAnswerError(InquiryActionError):
    """No worker accepted the update in time."""


async def resend_confirmation(services: Services, inquiry_id: int) -> InquirySnapshot | None:
    """Send the prospect the confirmation link again (only while the workflow waits for it)."""
    return await _act(services, inquiry_id, InquiryWorkflow.resend_confirmation)


async def override_duplicate(services: Services, inquiry_id: int) -> InquirySnapshot | None:
    """The agent says the suspected duplicate is none: the workflow creates the address and continues."""
    return await _act(services, inquiry_id, InquiryWorkflow.override_duplicate)


async def cancel_inquiry(
    services: Services, inquiry_id: int, *, reason: str, user_id: int | None
) -> InquirySnapshot | None:
    """End the inquiry's automation with the agent's REASON (status `cancelled`, unless it finished first)."""
    return await _act(services, inquiry_id, InquiryWorkflow.cancel, CancelInput(reason=reason, user_id=user_id))


async def _act(services: Services, inquiry_id: int, update: Any, *args: Any) -> InquirySnapshot | None:
    async with services.sessions() as session:
        inquiry = await session.get(Inquiry, inquiry_id)
    if inquiry is None:
        raise InquiryMissingError(f"Inquiry {inquiry_id} does not exist.")
    return await run_update(services, inquiry.workflow_id, update, *args)


async def run_update(services: Services, workflow_id: str, update: Any, *args: Any) -> InquirySnapshot | None:
    """The workflow's snapshot after UPDATE, None when it was accepted but is still running.

    Raises an InquiryActionError: the validator's refusal, a finished workflow, no answer, an outage.
    """
    try:
        client = await services.temporal()
        handle = inquiry_handle(client, workflow_id)
        async with asyncio.timeout(ACCEPT_TIMEOUT_SECONDS):
            update_handle = await handle.start_update(update, *args, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    except WorkflowUpdateFailedError as exc:
        raise ActionRefusedError(_refusal(exc)) from exc
    except RPCError as exc:
        # Updating a closed workflow answers NOT_FOUND ("workflow execution already completed").
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowFinishedError(workflow_id) from exc
        raise WorkflowUnavailableError(workflow_id) from exc
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:  # the SDK turns the cancel into this
        raise NoAnswerError(workflow_id) from exc
    except RuntimeError as exc:  # no connection to Temporal at all
        raise WorkflowUnavailableError(workflow_id) from exc
    try:
        async with asyncio.timeout(RESULT_TIMEOUT_SECONDS):
            snapshot: InquirySnapshot = await update_handle.result()
    except TimeoutError:
        return None
    except WorkflowUpdateFailedError as exc:
        raise ActionRefusedError(_refusal(exc)) from exc
    return snapshot


def _refusal(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
