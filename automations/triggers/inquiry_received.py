"""A new portal inquiry (`inquiry.received`, written by the intake with the inquiry row)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import EventData, FactField, Trigger, payload_int
from db.models import Inquiry, Property


class InquiryReceived(Trigger):
    kind = "inquiry.received"
    label = "Neue Anfrage"
    fields = (
        FactField("source", "Portal / Quelle", (("immoscout24", "ImmoScout24"), ("website", "Webseite"))),
        FactField("mailbox", "Empfangspostfach"),
        FactField("email", "Absender (E-Mail des Interessenten)"),
        FactField("property_ref", "Objektnummer"),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        inquiry_id = payload_int(event, "inquiry_id")
        inquiry = await session.get(Inquiry, inquiry_id) if inquiry_id is not None else None
        if inquiry is None:
            return {"inquiry_id": inquiry_id, **{f.name: event.payload.get(f.name) for f in self.fields}}
        property_id = inquiry.property_id or await session.scalar(
            select(Property.id).where(Property.external_ref == inquiry.property_ref)
        )
        return {
            "inquiry_id": inquiry.id,
            "source": inquiry.source,
            "mailbox": inquiry.mailbox_address,
            "email": inquiry.email,
            "property_ref": inquiry.property_ref,
            "property_id": property_id,
            "contact_id": inquiry.contact_id,
        }


TRIGGER = InquiryReceived()
