"""The agent's buttons on an inquiry: resend the confirmation, cancel the automation, "not a duplicate".

Each is a workflow update. Its validator refuses what is not possible (NotWaiting, AlreadyFinished,
NotDuplicate) before anything enters history; the refusal's message is shown to the agent as it is.
The page redirects back to the preview with the outcome as a flash (redirect-after-POST).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Inquiry
from starter.services.context import Services
from starter.temporal.inquiries import inquiry_handle
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.dashboard import not_found
from web.security.auth import CurrentUserDep
from web.security.visibility import require_visible
from web.texts import t
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import CancelInput, InquirySnapshot, InquiryState

router = APIRouter(tags=["office"], include_in_schema=False)

# Accepting is the validator on the worker: quick, unless no worker runs at all.
ACCEPT_TIMEOUT_SECONDS = 10.0
# Resend answers after the mail went out; past this the page says "accepted, in progress" instead of waiting.
RESULT_TIMEOUT_SECONDS = 20.0


class ActionFailedError(Exception):
    """The agent-facing reason an action did not happen."""


async def run_update(services: Services, workflow_id: str, update: Any, *args: Any) -> InquirySnapshot | None:
    """The workflow's snapshot after UPDATE, None when it was accepted but is still running.

    Raises ActionFailedError with a text for the agent: the validator's refusal, a finished workflow, an outage.
    """
    try:
        client = await services.temporal()
        handle = inquiry_handle(client, workflow_id)
        async with asyncio.timeout(ACCEPT_TIMEOUT_SECONDS):
            update_handle = await handle.start_update(update, *args, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    except WorkflowUpdateFailedError as exc:
        raise ActionFailedError(_refusal(exc)) from exc
    except RPCError as exc:
        # Updating a closed workflow answers NOT_FOUND ("workflow execution already completed").
        key = "action.finished" if exc.status == RPCStatusCode.NOT_FOUND else "action.unavailable"
        raise ActionFailedError(t(key)) from exc
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:  # the SDK turns the cancel into this
        raise ActionFailedError(t("action.no_answer")) from exc
    except RuntimeError as exc:  # no connection to Temporal at all
        raise ActionFailedError(t("action.unavailable")) from exc
    try:
        async with asyncio.timeout(RESULT_TIMEOUT_SECONDS):
            snapshot: InquirySnapshot = await update_handle.result()
    except TimeoutError:
        return None
    except WorkflowUpdateFailedError as exc:
        raise ActionFailedError(_refusal(exc)) from exc
    return snapshot


def _refusal(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
    return t("action.refused", reason=reason)


async def _act(
    request: Request,
    services: Services,
    inquiry_id: int,
    update: Any,
    *args: Any,
    done: Callable[[InquirySnapshot], str],
) -> Response:
    async with services.sessions() as session:
        inquiry = await session.get(Inquiry, inquiry_id)
    if inquiry is None:
        return not_found(request, t("error.inquiry_missing"))
    try:
        snapshot = await run_update(services, inquiry.workflow_id, update, *args)
    except ActionFailedError as failed:
        flash(request, str(failed), "error")
    else:
        flash(request, done(snapshot) if snapshot is not None else t("action.in_progress"), "ok")
    return RedirectResponse(f"/dashboard/inquiries/{inquiry_id}", status_code=303)


def _cancelled(snapshot: InquirySnapshot) -> str:
    if snapshot.state == InquiryState.CANCELLED:
        return t("action.cancel_done")
    # The workflow was past its last waiting point (e.g. sending the exposé) and finished on its own.
    return t("action.cancel_too_late", status=t(f"status.{snapshot.state.value}"))


@router.post("/dashboard/inquiries/{inquiry_id}/resend", dependencies=[require_visible(Inquiry, "inquiry_id")])
async def resend_confirmation(request: Request, inquiry_id: int, services: ServicesDep) -> Response:
    return await _act(
        request, services, inquiry_id, InquiryWorkflow.resend_confirmation, done=lambda _: t("action.resend_done")
    )


@router.post("/dashboard/inquiries/{inquiry_id}/not-duplicate", dependencies=[require_visible(Inquiry, "inquiry_id")])
async def not_a_duplicate(request: Request, inquiry_id: int, services: ServicesDep) -> Response:
    return await _act(
        request, services, inquiry_id, InquiryWorkflow.override_duplicate, done=lambda _: t("action.not_duplicate_done")
    )


@router.post("/dashboard/inquiries/{inquiry_id}/cancel", dependencies=[require_visible(Inquiry, "inquiry_id")])
async def cancel_automation(
    request: Request,
    inquiry_id: int,
    services: ServicesDep,
    user: CurrentUserDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    reason = reason.strip()
    if not reason or len(reason) > 500:
        flash(request, t("action.reason_required"), "error")
        return RedirectResponse(f"/dashboard/inquiries/{inquiry_id}", status_code=303)
    cancel = CancelInput(reason=reason, user_id=user.id if user else None)
    return await _act(request, services, inquiry_id, InquiryWorkflow.cancel, cancel, done=_cancelled)
