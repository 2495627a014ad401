"""The retention schedule's database work (Art. 5 (1) e, Art. 17 DSGVO): notices, erasure, purging.

- a contact whose "speichern bis" date is near gets a task for its owner (or the manager of its latest
  inquiry's property) `retention_notice_days` before, once per date;
- a contact past its date is erased like an Art. 17 request (db/privacy_store.py);
- the personal data of an inquiry that was never confirmed is deleted `unconfirmed_retention_days` after
  it expired: prospect data, its raw payload, and the bodies of the mails sent for it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from db.app_settings import load_section
from db.base import utcnow
from db.legal_settings import SECTION, LegalSettings
from db.models import Contact, Inquiry, InquiryStatus, Message, PrivacyAudit, Property, RawPayload, Task
from db.privacy_store import ERASED, erase_contact
from db.session import SessionFactory
from settings import Settings


class RetentionRequest(BaseModel):
    at: datetime


class RetentionPlan(BaseModel):
    """IDs only: which contacts are due, how many notices and purges were written."""

    day: date
    notices: int
    due_contact_ids: list[int]
    purged_inquiries: int


class ErasedContact(BaseModel):
    contact_id: int
    workflow_ids: list[str]


class RetentionActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name="plan_retention")
    async def plan_retention(self, request: RetentionRequest) -> RetentionPlan:
        day = request.at.astimezone(ZoneInfo(self._settings.time_zone)).date()
        async with self._sessions.begin() as session:
            legal = await load_section(session, SECTION, LegalSettings)
            notices = 0
            horizon = day + timedelta(days=legal.retention_notice_days)
            upcoming = await session.scalars(
                select(Contact).where(
                    Contact.retain_until.is_not(None),
                    Contact.retain_until >= day,
                    Contact.retain_until <= horizon,
                    Contact.erased_at.is_(None),
                )
            )
            for contact in upcoming:
                key = f"retention:{contact.id}:{contact.retain_until}"
                if await session.scalar(select(Task.id).where(Task.idempotency_key == key)) is not None:
                    continue
                session.add(
                    Task(
                        idempotency_key=key,
                        title=f"Speicherfrist läuft ab: Kontakt #{contact.id} am {contact.retain_until:%d.%m.%Y}",
                        body="Die Daten werden an diesem Tag anonymisiert. Verlängern Sie die Frist auf der "
                        f"Datenschutzseite des Kontakts, wenn ein Grund fortbesteht: /contacts/{contact.id}/privacy",
                        assignee_user_id=contact.owner_user_id or await self._manager(session, contact.id),
                        contact_id=contact.id,
                        due_at=utcnow(),
                    )
                )
                session.add(PrivacyAudit(action="retention_notice", contact_id=contact.id, at=utcnow(), detail={}))
                notices += 1
            due = list(
                await session.scalars(
                    select(Contact.id).where(
                        Contact.retain_until.is_not(None), Contact.retain_until < day, Contact.erased_at.is_(None)
                    )
                )
            )
            purged = await self._purge_unconfirmed(
                session, request.at - timedelta(days=legal.unconfirmed_retention_days)
            )
        return RetentionPlan(day=day, notices=notices, due_contact_ids=due, purged_inquiries=purged)

    @staticmethod
    async def _manager(session: AsyncSession, contact_id: int) -> int | None:
        property_id = await session.scalar(
            select(Inquiry.property_id).where(Inquiry.contact_id == contact_id).order_by(Inquiry.id.desc()).limit(1)
        )
        if property_id is None:
            return None
        return await session.scalar(select(Property.manager_user_id).where(Property.id == property_id))

    @staticmethod
    async def _purge_unconfirmed(session: AsyncSession, before: datetime) -> int:
        stale = list(
            await session.scalars(
                select(Inquiry).where(
                    Inquiry.status == InquiryStatus.EXPIRED,
                    Inquiry.contact_id.is_(None),
                    Inquiry.updated_at < before,
                    Inquiry.email.not_like("%@invalid"),
                )
            )
        )
        for inquiry in stale:
            inquiry.prospect = {}
            inquiry.message = None
            inquiry.email = f"geloescht-anfrage-{inquiry.id}@invalid"
            if inquiry.raw_payload_id:
                await session.execute(
                    update(RawPayload)
                    .where(RawPayload.id == inquiry.raw_payload_id)
                    .values(body="{}", remote_addr=None)
                )
            await session.execute(
                update(Message)
                .where(Message.inquiry_id == inquiry.id)
                .values(
                    body_text=ERASED,
                    body_html=None,
                    subject=ERASED,
                    recipient=f"geloescht-anfrage-{inquiry.id}@invalid",
                )
            )
            session.add(
                PrivacyAudit(action="erase", at=utcnow(), detail={"inquiry_id": inquiry.id, "origin": "retention"})
            )
        return len(stale)

    @activity.defn(name="erase_contact_for_retention")
    async def erase_contact_for_retention(self, contact_id: int) -> ErasedContact:
        """Erase one contact past its date; the workflow then ends the IDs returned. Idempotent."""
        async with self._sessions.begin() as session:
            contact = await session.get(Contact, contact_id)
            if contact is None or contact.erased_at is not None:
                return ErasedContact(contact_id=contact_id, workflow_ids=[])
            result = await erase_contact(session, contact_id, self._settings.data_dir)
            assert result is not None
            session.add(
                PrivacyAudit(
                    action="erase",
                    contact_id=contact_id,
                    at=utcnow(),
                    detail={"origin": "retention", "workflows": result.workflow_ids, "rows_swept": result.rows_swept},
                )
            )
        return ErasedContact(contact_id=contact_id, workflow_ids=result.workflow_ids)

    def all(self) -> list[object]:
        return [self.plan_retention, self.erase_contact_for_retention]
