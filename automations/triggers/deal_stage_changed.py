"""A deal moved to another stage (`deal.stage_changed`), e.g. to "Reserviert"."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import EventData, FactField, Trigger, payload_int
from db.models import Deal

STAGES = ("Anfrage", "Besichtigung", "Reserviert", "Verkauft", "Vermietet", "Abgesagt")


class DealStageChanged(Trigger):
    kind = "deal.stage_changed"
    label = "Deal-Phase geändert"
    fields = (
        FactField("stage", "Neue Phase", tuple((s, s) for s in STAGES)),
        FactField("previous_stage", "Bisherige Phase", tuple((s, s) for s in STAGES)),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        deal_id = payload_int(event, "deal_id")
        deal = await session.get(Deal, deal_id) if deal_id is not None else None
        # The stage the event reports, not the deal's current one: a later move must not rewrite history.
        return {
            "deal_id": deal_id,
            "stage": event.payload.get("stage"),
            "previous_stage": event.payload.get("previous_stage"),
            "contact_id": deal.contact_id if deal else event.payload.get("contact_id"),
            "property_id": deal.property_id if deal else event.payload.get("property_id"),
        }


TRIGGER = DealStageChanged()
