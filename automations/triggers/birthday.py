"""A contact's birthday (`birthday`), written by the daily scan once per contact and year."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import CONTACT_STATUSES, YES_NO, EventData, FactField, Trigger, payload_int
from db.models import Contact
from workflows.automation_models import BIRTHDAY_TRIGGER


class Birthday(Trigger):
    kind = BIRTHDAY_TRIGGER
    label = "Geburtstag (täglicher Lauf)"
    fields = (
        FactField("newsletter", "Newsletter", YES_NO),
        FactField("status", "Status", CONTACT_STATUSES),
        FactField("age", "Alter"),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        contact_id = payload_int(event, "contact_id")
        contact = await session.get(Contact, contact_id) if contact_id is not None else None
        year = int(event.payload["year"])
        born = contact.birthday if contact else None
        return {
            "contact_id": contact_id,
            "year": year,
            "day": event.payload.get("day"),
            "age": year - born.year if born else None,
            "newsletter": contact.newsletter if contact else None,
            "status": contact.status if contact else None,
        }

    def dedupe_key(self, event: EventData) -> str:
        # One greeting per contact and year, even if the scan wrote a second event for it.
        return f"birthday:{event.payload['contact_id']}:{event.payload['year']}"


TRIGGER = Birthday()
