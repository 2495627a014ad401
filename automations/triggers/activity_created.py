"""A journal entry was recorded (`activity.created`): cancellations with their reason, viewings, calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import EventData, FactField, Trigger, payload_int
from db.models import Activity, ActivityKind

NO_CONTACT = "Kein Kontakt mehr gewünscht"
KIND_LABELS = {
    ActivityKind.CANCELLATION: "Absage",
    ActivityKind.ACCEPTANCE: "Zusage",
    ActivityKind.WAITING_LIST: "Warteliste",
    ActivityKind.VIEWING: "Besichtigung",
    ActivityKind.CALL: "Telefonat",
    ActivityKind.EMAIL: "E-Mail",
    ActivityKind.NOTE: "Notiz",
    ActivityKind.OTHER: "Sonstige",
}


class ActivityCreated(Trigger):
    kind = "activity.created"
    label = "Aktivität angelegt (z. B. Absage)"
    fields = (
        FactField("kind", "Art", tuple((k.value, label) for k, label in KIND_LABELS.items())),
        FactField("reason", "Grund (z. B. Absagegrund)", ((NO_CONTACT, NO_CONTACT),)),
        FactField("text", "Text"),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        activity_id = payload_int(event, "activity_id")
        row = await session.get(Activity, activity_id) if activity_id is not None else None
        if row is None:
            keys = ("kind", "reason", "text", "contact_id", "property_id", "inquiry_id")
            return {"activity_id": activity_id, **{key: event.payload.get(key) for key in keys}}
        return {
            "activity_id": row.id,
            "kind": row.kind,
            "reason": row.reason,
            "text": row.text,
            "contact_id": row.contact_id,
            "property_id": row.property_id,
            "inquiry_id": row.inquiry_id,
            "user_id": row.user_id,
        }


TRIGGER = ActivityCreated()
