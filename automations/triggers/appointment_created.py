"""An appointment was entered (`appointment.created`): viewings from leads, time slots or the CRM API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import EventData, FactField, Trigger, payload_int
from db.models import Appointment


class AppointmentCreated(Trigger):
    kind = "appointment.created"
    label = "Termin angelegt"
    fields = (
        FactField("kind", "Art", (("viewing", "Besichtigung"), ("general", "Allgemein"))),
        FactField("title", "Titel"),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        appointment_id = payload_int(event, "appointment_id")
        row = await session.get(Appointment, appointment_id) if appointment_id is not None else None
        if row is None:
            keys = ("kind", "contact_id", "property_id", "lead_id", "user_id")
            return {"appointment_id": appointment_id, **{key: event.payload.get(key) for key in keys}}
        return {
            "appointment_id": row.id,
            "kind": row.kind,
            "title": row.title,
            "starts_at": row.starts_at.isoformat(),
            "contact_id": row.contact_id,
            "property_id": row.property_id,
            "lead_id": row.lead_id,
            "user_id": row.user_id,
        }


TRIGGER = AppointmentCreated()
