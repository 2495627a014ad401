"""Widerruf of a broker contract (BGH I ZR 30/15, § 356 (4) BGB): whether the exposé waits, and until when.

An exposé that claims a commission starts a distance contract the prospect may withdraw from within the
withdrawal period. Without the prospect's express request to start early, the office either waits until
the period has passed (a durable timer in InquiryWorkflow) or sends at once at its own risk.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.app_settings import load_section
from db.base import utcnow
from db.legal_settings import SECTION, LegalSettings
from db.models import ConsentPurpose, ConsentRecord, Inquiry, Property
from db.session import SessionFactory
from messaging.widerruf import widerruf_applies
from settings import Settings


class WiderrufWait(BaseModel):
    """Activity result: until when the exposé waits (None: send now). IDs and instants only."""

    applies: bool
    wait_until: datetime | None = None


async def expose_wait(session: AsyncSession, inquiry_id: int) -> WiderrufWait:
    """Until when the inquiry's exposé waits; shared by this activity and the one that sends the exposé."""
    inquiry = await session.get(Inquiry, inquiry_id)
    if inquiry is None:
        raise ApplicationError(f"inquiry {inquiry_id} does not exist", non_retryable=True)
    prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
    legal = await load_section(session, SECTION, LegalSettings)
    if not widerruf_applies(prop, legal):
        return WiderrufWait(applies=False)
    records = list(
        await session.scalars(
            select(ConsentRecord).where(
                ConsentRecord.inquiry_id == inquiry_id,
                ConsentRecord.purpose.in_([ConsentPurpose.WIDERRUF_EARLY_START, ConsentPurpose.WIDERRUF_NOTICE]),
            )
        )
    )
    if (
        any(r.purpose == ConsentPurpose.WIDERRUF_EARLY_START for r in records)
        or legal.without_early_start == "send_now"
    ):
        return WiderrufWait(applies=True)
    # The period runs from the contract (the confirmation that showed the notice); a day's margin for
    # a withdrawal posted on the last day.
    start = min((r.given_at for r in records), default=utcnow())
    return WiderrufWait(applies=True, wait_until=start + timedelta(days=legal.withdrawal_days + 1))


class WiderrufActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name="widerruf_wait")
    async def widerruf_wait(self, inquiry_id: int) -> WiderrufWait:
        async with self._sessions() as session:
            return await expose_wait(session, inquiry_id)

    def all(self) -> list[object]:
        return [self.widerruf_wait]
