"""A contact was created (`contact.created`), by a person, the inquiry manager or an automation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import CONTACT_STATUSES, YES_NO, EventData, FactField, Trigger, payload_int
from db.models import Contact


class ContactCreated(Trigger):
    kind = "contact.created"
    label = "Kontakt angelegt"
    fields = (
        FactField("created_by_automation", "Von einer Automation angelegt", YES_NO),
        FactField("source", "Quelle (z. B. inquiry:immoscout24, api, automation:…)"),
        FactField("status", "Status", CONTACT_STATUSES),
        FactField("newsletter", "Newsletter", YES_NO),
        FactField("email", "E-Mail-Adresse"),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        contact_id = payload_int(event, "contact_id")
        contact = await session.get(Contact, contact_id) if contact_id is not None else None
        source = contact.source if contact else event.payload.get("source")
        return {
            "contact_id": contact_id,
            "created_by_automation": bool(event.payload.get("created_by_automation")),
            "source": source,
            "status": contact.status if contact else None,
            "newsletter": contact.newsletter if contact else None,
            "email": contact.email if contact else None,
        }


TRIGGER = ContactCreated()
