"""The agent's buttons on an inquiry: resend the confirmation, cancel the automation, "not a duplicate".

Each is a workflow update (starter.services.inquiry_actions). Its validator refuses what is not possible
(NotWaiting, AlreadyFinished, NotDuplicate) before anything enters history; the refusal's message is shown
to the agent as it is. The page redirects back to the preview with the outcome as a flash (redirect-after-POST).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from db.models import Inquiry
from starter.services import inquiry_actions as actions
from web.dependencies import ServicesDep
from web.flash import flash
from web.pages.dashboard import not_found
from web.security.auth import CurrentUserDep
from web.security.visibility import require_visible
from web.texts import t
from workflows.inquiry_models import InquirySnapshot, InquiryState

router = APIRouter(tags=["office"], include_in_schema=False)


def failure_text(error: actions.InquiryActionError) -> str:
    """The agent-facing reason an action did not happen."""
    if isinstance(error, actions.ActionRefusedError):
        return t("action.refused", reason=error.reason)
    if isinstance(error, actions.WorkflowFinishedError):
        return t("action.finished")
    if isinstance(error, actions.NoAnswerError):
        return t("action.no_answer")
    return t("action.unavailable")


async def _act(
    request: Request,
    inquiry_id: int,
    action: Awaitable[InquirySnapshot | None],
    *,
    done: Callable[[InquirySnapshot], str],
) -> Response:
    try:
        snapshot = await action
    except actions.InquiryMissingError:
        return not_found(request, t("error.inquiry_missing"))
    except actions.InquiryActionError as failed:
        flash(request, failure_text(failed), "error")
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
        request,
        inquiry_id,
        actions.resend_confirmation(services, inquiry_id),
        done=lambda _: t("action.resend_done"),
    )


@router.post("/dashboard/inquiries/{inquiry_id}/not-duplicate", dependencies=[require_visible(Inquiry, "inquiry_id")])
async def not_a_duplicate(request: Request, inquiry_id: int, services: ServicesDep) -> Response:
    return await _act(
        request,
        inquiry_id,
        actions.override_duplicate(services, inquiry_id),
        done=lambda _: t("action.not_duplicate_done"),
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
    cancel = actions.cancel_inquiry(services, inquiry_id, reason=reason, user_id=user.id if user else None)
    return await _act(request, inquiry_id, cancel, done=_cancelled)
