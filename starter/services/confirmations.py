"""The prospect's confirmation (seed 002): check the link, keep the submission, record the declarations,
hand the confirmation to the inquiry's workflow as a validated update.

The link is checked first (a forged or spent link stores nothing); the submission is stored raw before
anything else; a refusal of the workflow withdraws the declarations again (the raw submission stays).
Every refusal is a ConfirmationRefusedError with a code (invalid, expired, used, unavailable) the page words.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.legal_settings import LegalSettings
from db.models import ConsentPurpose, ConsentRecord, Inquiry, InquiryStatus, Property, RawPayload
from domain.links import LinkClaims, LinkError, LinkSigner
from messaging.inquiry_mail import CONFIRM_PURPOSE
from messaging.widerruf import render_material, widerruf_applies
from starter.services.context import Services
from starter.services.privacy import Origin, legal_settings, record_consent
from starter.temporal.inquiries import inquiry_handle
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import ConfirmationInput

CLOSED = frozenset(
    {InquiryStatus.EXPIRED, InquiryStatus.CANCELLED, InquiryStatus.FAILED, InquiryStatus.IGNORED, InquiryStatus.SKIPPED}
)
# The confirm update only records the submission: with a worker it answers in milliseconds; past this
# none runs, and the prospect gets a page saying so (503 + Retry-After) instead of a browser spinning on.
UPDATE_TIMEOUT_SECONDS = 10.0
UPDATE_REJECTIONS = {"LinkInvalid": "invalid", "LinkUsed": "used", "LinkExpired": "expired"}


class ConfirmationRefusedError(Exception):
    """The confirmation cannot be taken; CODE is one of invalid, expired, used, unavailable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Confirmable:
    """A verified link and the inquiry it belongs to, still open for its confirmation."""

    claims: LinkClaims
    inquiry: Inquiry


@dataclass(frozen=True)
class ConfirmationPage:
    """What the form shows besides the prospect's values: the property and the office's legal texts."""

    property: Property | None
    legal: LegalSettings


async def find_confirmable(services: Services, token: str) -> Confirmable:
    """The inquiry behind a confirmation link; ConfirmationRefusedError when the link or the inquiry says no."""
    try:
        claims = LinkSigner(services.settings.effective_secret_key()).verify(CONFIRM_PURPOSE, token)
    except LinkError as exc:
        raise ConfirmationRefusedError(exc.code) from exc
    async with services.sessions() as session:
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.workflow_id == claims.workflow_id))
    if inquiry is None:
        raise ConfirmationRefusedError("invalid")
    # Only final states turn the prospect away here; the workflow's update validator has the last word.
    # (The mail can arrive before the status row says "waiting": a quick click must still get the form.)
    if inquiry.status in (InquiryStatus.COMPLETED, InquiryStatus.ABORTED) or inquiry.contact_id is not None:
        raise ConfirmationRefusedError("used")
    if inquiry.status in CLOSED:
        raise ConfirmationRefusedError("expired")
    return Confirmable(claims=claims, inquiry=inquiry)


async def confirmation_page(services: Services, inquiry: Inquiry) -> ConfirmationPage:
    """The inquiry's property (if resolved) and the legal settings the form presents."""
    async with services.sessions() as session:
        prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
        legal = await legal_settings(session)
    return ConfirmationPage(property=prop, legal=legal)


async def inquiry_property(services: Services, inquiry: Inquiry) -> Property | None:
    """The property the inquiry was resolved to, for the thank-you page."""
    if not inquiry.property_id:
        return None
    async with services.sessions() as session:
        return await session.get(Property, inquiry.property_id)


async def store_submission(services: Services, values: dict[str, Any], remote_addr: str | None) -> int:
    """Keep the form's values as a raw payload, committed whatever happens next; returns its id."""
    async with services.sessions.begin() as session:
        raw = RawPayload(
            channel="confirm-form", content_type="application/json", body=json.dumps(values), remote_addr=remote_addr
        )
        session.add(raw)
    return raw.id


async def record_declarations(
    services: Services, origin: Origin, inquiry: Inquiry, values: dict[str, Any], raw_id: int
) -> list[int]:
    """Store what the prospect declared (newsletter consent, Widerruf notice, early start) with its proof."""
    ids: list[int] = []
    async with services.sessions.begin() as session:
        prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
        legal = await legal_settings(session)
        common: dict[str, Any] = {
            "email": inquiry.email,
            "origin": origin,
            "inquiry_id": inquiry.id,
            "raw_payload_id": raw_id,
        }
        if values.get("newsletter"):
            record = await record_consent(
                session,
                purpose=ConsentPurpose.ADVERTISING,
                text=legal.consent_text,
                version=legal.consent_version,
                **common,
            )
            ids.append(record.id)
        if widerruf_applies(prop, legal):
            notice, form = render_material(legal, prop, inquiry.property_ref)
            record = await record_consent(
                session,
                purpose=ConsentPurpose.WIDERRUF_NOTICE,
                text=f"{legal.commission_note}\n\n{notice}\n\n{form}",
                version=legal.widerruf_version,
                **common,
            )
            ids.append(record.id)
            if values.get("early_start"):
                record = await record_consent(
                    session,
                    purpose=ConsentPurpose.WIDERRUF_EARLY_START,
                    text=legal.early_start_text,
                    version=legal.widerruf_version,
                    **common,
                )
                ids.append(record.id)
    return ids


async def withdraw_declarations(services: Services, consent_ids: list[int]) -> None:
    """The workflow refused the confirmation: nothing was declared (the raw submission stays)."""
    if consent_ids:
        async with services.sessions.begin() as session:
            await session.execute(delete(ConsentRecord).where(ConsentRecord.id.in_(consent_ids)))


async def deliver_confirmation(
    services: Services, claims: LinkClaims, submission_id: int, consent_ids: list[int]
) -> None:
    """Hand the stored submission to the workflow's `confirm` update.

    ConfirmationRefusedError: "unavailable" when no worker answers (the declarations stay: the prospect may
    try again); otherwise the workflow's or Temporal's refusal, and the declarations are withdrawn.
    """
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
            client = await services.temporal()
            await inquiry_handle(client, claims.workflow_id).execute_update(
                InquiryWorkflow.confirm, ConfirmationInput(nonce=claims.nonce, submission_id=submission_id)
            )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        # No worker answers: the submission is stored, the prospect may try again.
        raise ConfirmationRefusedError("unavailable") from exc
    except WorkflowUpdateFailedError as exc:
        await withdraw_declarations(services, consent_ids)
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        raise ConfirmationRefusedError(UPDATE_REJECTIONS.get(kind or "", "invalid")) from exc
    except RPCError as exc:
        await withdraw_declarations(services, consent_ids)
        raise ConfirmationRefusedError("expired" if exc.status == RPCStatusCode.NOT_FOUND else "unavailable") from exc
    except RuntimeError as exc:  # Temporal not reachable at all
        await withdraw_declarations(services, consent_ids)
        raise ConfirmationRefusedError("unavailable") from exc
