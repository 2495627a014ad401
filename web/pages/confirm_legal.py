"""The legal part of the /confirm page: consent checkbox with proof, commission note, Widerruf, early start.

The page shows the texts from the office's settings; what the prospect declared is stored as consent
records (text, version, time, IP, user agent, page) before the confirmation reaches the workflow.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ConsentPurpose, ConsentRecord, Inquiry, Property
from messaging.widerruf import render_material, widerruf_applies
from starter.services.context import Services
from starter.services.privacy import Origin, legal_settings, record_consent


async def legal_context(session: AsyncSession, prop: Property | None, ref: str | None) -> dict[str, Any]:
    legal = await legal_settings(session)
    applies = widerruf_applies(prop, legal)
    notice, form = render_material(legal, prop, ref) if applies else ("", "")
    return {
        "consent_text": legal.consent_text,
        "widerruf": applies,
        "commission_note": legal.commission_note,
        "widerruf_text": notice,
        "withdrawal_form": form,
        "early_start_text": legal.early_start_text,
        "withdrawal_days": legal.withdrawal_days,
        "waits": legal.without_early_start == "wait",
    }


async def record_declarations(
    services: Services, request: Request, inquiry: Inquiry, values: dict[str, Any], raw_id: int
) -> list[int]:
    origin = Origin(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        page="/confirm",  # the token in the path is a credential: not kept in the proof
    )
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
