"""Demo data for the live preview of the time-slot mail templates (`slots.*`) in the template editor.

Built with the composer's own context builder, so the preview offers exactly the variables a real mail
gets; the link is an example (a real one belongs to a request and its workflow).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from db.base import utcnow
from db.models import Contact, SlotProposal, SlotRequest
from db.session import SessionFactory
from messaging.slot_mail import SlotData, SlotMailComposer, slot_text
from settings import Settings
from starter.services.showcase import sample_agent, sample_property


def slot_demo_context(key: str, settings: Settings, sessions: SessionFactory) -> dict[str, Any] | None:
    if not key.startswith("slots."):
        return None
    agent, prop = sample_agent(), sample_property()
    contact = Contact(
        id=1, salutation="Frau", first_name="Nina", last_name="Neu", email="nina.neu@example.com", mobile="+49 151 2222"
    )
    start = (utcnow() + timedelta(days=3)).replace(hour=14, minute=0, second=0, microsecond=0)
    proposals = [
        SlotProposal(position=n, starts_at=start + timedelta(days=n), ends_at=start + timedelta(days=n, hours=1))
        for n in range(1, 4)
    ]
    request = SlotRequest(
        id=4711,
        contact_id=1,
        property_id=1,
        recipient_user_id=1,
        link_nonce="BEISPIEL",
        expires_at=utcnow() + timedelta(days=14),
        comment="Am liebsten nachmittags.",
    )
    composer = SlotMailComposer(sessions, settings)
    context = composer.context(SlotData(request, contact, prop, agent, proposals))
    context["time_slot_link"] = f"{settings.public_base_url}/slots/BEISPIEL"
    context["recipient"] = {"name": agent.name}
    context["fallback_note"] = "SMS nicht möglich: keine SMS-Berechtigung" if key == "slots.response" else ""
    first = proposals[0]
    context["appointment"] = {"text": slot_text(first.starts_at, first.ends_at, composer.zone)}
    return context
