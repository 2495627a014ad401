"""The prospect's side of a time-slot request (seed 001): the link, what the form shows, the submission.

The page checks the link first (a forged or spent one stores nothing), stores the posted form as a raw
payload, then hands the proposals to the request's workflow as its validated `submit` update; every
refusal comes back as a code the page turns into its German answer.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Property, RawPayload, SlotRequest, SlotRequestStatus
from db.slot_store import SlotSettings, load_slot_settings
from domain.links import LinkClaims, LinkError, LinkSigner
from starter.services.context import Services
from starter.temporal.slots import slot_handle
from workflows.slot_models import SLOT_PURPOSE, SlotAnswer
from workflows.slot_request import TimeSlotRequestWorkflow

ANSWERED = (SlotRequestStatus.ANSWERED, SlotRequestStatus.SCHEDULED)
NOT_READY_PAUSE_SECONDS = 0.2  # the workflow loads its request in one quick activity
UPDATE_REJECTIONS = {"LinkInvalid": "invalid", "LinkUsed": "used", "LinkExpired": "expired", "NotReady": "unavailable"}


class SlotLinkRefusedError(Exception):
    """The prospect's link or submission is refused; CODE is invalid, expired, used or unavailable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class InvalidSlotsError(Exception):
    """The workflow judged a proposed slot invalid (its clock, not the form's); the message is for the prospect."""


async def open_link(services: Services, token: str, now: datetime) -> tuple[LinkClaims, SlotRequest]:
    """The request behind a prospect's link, still open for proposals; SlotLinkRefusedError otherwise."""
    try:
        claims = LinkSigner(services.settings.effective_secret_key()).verify(SLOT_PURPOSE, token, now=now.timestamp())
    except LinkError as exc:
        raise SlotLinkRefusedError(exc.code) from exc
    async with services.sessions() as session:
        slot_request = await session.scalar(select(SlotRequest).where(SlotRequest.workflow_id == claims.workflow_id))
    if slot_request is None or slot_request.link_nonce != claims.nonce:
        raise SlotLinkRefusedError("invalid")
    if slot_request.status in ANSWERED or slot_request.submission_id is not None:
        raise SlotLinkRefusedError("used")
    if slot_request.status in (SlotRequestStatus.EXPIRED, SlotRequestStatus.FAILED) or slot_request.expires_at < now:
        raise SlotLinkRefusedError("expired")
    return claims, slot_request


@dataclass(frozen=True)
class FormData:
    property: Property | None
    settings: SlotSettings


async def form_data(services: Services, slot_request: SlotRequest) -> FormData:
    """What the prospect's form shows besides the form: the property (a viewing) and the page texts."""
    async with services.sessions() as session:
        prop = await session.get(Property, slot_request.property_id) if slot_request.property_id else None
        return FormData(prop, await load_slot_settings(session))


async def store_submission(services: Services, raw: dict[str, Any], remote_addr: str | None) -> int:
    """Keep the posted form as a raw payload before anything else (nothing is lost); its id."""
    async with services.sessions.begin() as session:
        payload = RawPayload(
            channel="slots-form",
            content_type="application/json",
            body=json.dumps(raw, ensure_ascii=False),
            remote_addr=remote_addr,
        )
        session.add(payload)
    return payload.id


async def submit_answer(
    services: Services, slot_request: SlotRequest, answer: SlotAnswer, within_seconds: float
) -> None:
    """Hand the prospect's proposals to the request's workflow as its validated `submit` update.

    Raises InvalidSlotsError when the workflow finds a slot invalid, SlotLinkRefusedError with the code
    the prospect's page shows otherwise ("unavailable" when no worker answers within WITHIN_SECONDS).
    """
    try:
        async with asyncio.timeout(within_seconds):
            await _submit(services, slot_request, answer)
    except (
        TimeoutError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ) as exc:  # no worker answers: the answer is stored, the prospect may try again
        raise SlotLinkRefusedError("unavailable") from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        if kind == "InvalidSlots" and isinstance(cause, ApplicationError):
            raise InvalidSlotsError(cause.message) from exc
        raise SlotLinkRefusedError(UPDATE_REJECTIONS.get(kind or "", "invalid")) from exc
    except RPCError as exc:
        not_started = slot_request.status == SlotRequestStatus.CREATED
        gone = exc.status == RPCStatusCode.NOT_FOUND and not not_started
        raise SlotLinkRefusedError("expired" if gone else "unavailable") from exc
    except RuntimeError as exc:  # Temporal not reachable at all
        raise SlotLinkRefusedError("unavailable") from exc


async def _submit(services: Services, slot_request: SlotRequest, answer: SlotAnswer) -> None:
    """Send the answer; a link handed out a moment ago finds its workflow not started or not ready yet,
    so those two refusals are retried (within the caller's timeout) instead of turning the prospect away."""
    client = await services.temporal()
    while True:
        try:
            await slot_handle(client, slot_request.id).execute_update(TimeSlotRequestWorkflow.submit, answer)
            return
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "NotReady"):
                raise
        except RPCError as exc:
            if not (exc.status == RPCStatusCode.NOT_FOUND and slot_request.status == SlotRequestStatus.CREATED):
                raise
        await asyncio.sleep(NOT_READY_PAUSE_SECONDS)
