"""A prospect answered by mail (`mail.reply_received`, written by the mailbox intake with the journal entry).

The same reply the inquiry, its leads and its time-slot request see; three yes/no facts say which of them
it concerns, so a rule can, say, only act on replies about a time-slot request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import YES_NO, EventData, FactField, Trigger, payload_int
from db.models import Activity, InboundMail


class MailReplyReceived(Trigger):
    kind = "mail.reply_received"
    label = "Antwort per E-Mail"
    fields = (
        FactField("to_inquiry", "betrifft eine Anfrage", YES_NO),
        FactField("to_lead", "betrifft einen offenen Lead", YES_NO),
        FactField("to_slot_request", "betrifft eine Terminanfrage", YES_NO),
        FactField("mailbox", "Empfangspostfach"),
        FactField("sender", "Absender (E-Mail)"),
        FactField("text", "Text der Antwort"),
    )

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        payload = event.payload
        lead_ids = [int(lead_id) for lead_id in payload.get("lead_ids") or []]
        activity_id = payload_int(event, "activity_id")
        activity = await session.get(Activity, activity_id) if activity_id is not None else None
        inbound_id = payload_int(event, "inbound_mail_id")
        inbound = await session.get(InboundMail, inbound_id) if inbound_id is not None else None
        return {
            "to_inquiry": payload.get("inquiry_id") is not None,
            "to_lead": bool(lead_ids),
            "to_slot_request": payload.get("slot_request_id") is not None,
            "mailbox": payload.get("mailbox"),
            "sender": inbound.sender if inbound else None,
            "text": activity.text if activity else None,
            "contact_id": payload.get("contact_id"),
            "property_id": activity.property_id if activity else None,
            "inquiry_id": payload.get("inquiry_id"),
            "lead_id": lead_ids[0] if lead_ids else None,
            "slot_request_id": payload.get("slot_request_id"),
        }


TRIGGER = MailReplyReceived()
