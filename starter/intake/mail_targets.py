"""Which leads and time-slot requests a prospect's reply concerns, besides the inquiry (issue 15).

A reply is matched by its thread first (In-Reply-To/References name one of our mails: a lead reminder
carries its lead, a time-slot mail its request in the idempotency key `slots:<id>:…`), then by its sender:
the contacts with the From address, their open leads, and their time-slot request that waits for an
answer. Lead reminders go to the agent, so for leads the sender match is the usual one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contact, Lead, Message, Property, SlotRequest, SlotRequestStatus
from db.slot_store import first_contact_person

_SLOT_KEY = re.compile(r"^slots:(\d+):")
# A sender with more open leads than this is an office-internal address, not a prospect: keep it bounded.
MAX_LEADS = 10
MAX_CONTACTS = 20


@dataclass(frozen=True)
class ReplyTargets:
    contact_id: int | None = None
    leads: list[Lead] = field(default_factory=list)
    slot_request: SlotRequest | None = None

    def __bool__(self) -> bool:
        return bool(self.leads) or self.slot_request is not None


def slot_request_id_of(message: Message) -> int | None:
    match = _SLOT_KEY.match(message.idempotency_key or "")
    return int(match.group(1)) if match else None


async def reply_targets(
    session: AsyncSession, message: Message | None, contact_id: int | None, sender: str
) -> ReplyTargets:
    """The leads and the slot request of a reply. CONTACT_ID: the one the inquiry or our mail names."""
    contact_ids = [contact_id] if contact_id is not None else []
    if not contact_ids and sender:
        # Contacts store their address lower-case, as MailView gives the sender.
        found = await session.scalars(
            select(Contact.id)
            .where(Contact.email == sender, Contact.erased_at.is_(None))
            .order_by(Contact.id)
            .limit(MAX_CONTACTS)
        )
        contact_ids = list(found)
    leads: dict[int, Lead] = {}
    if message is not None and message.lead_id is not None:
        lead = await session.get(Lead, message.lead_id)
        if lead is not None and lead.status == "open":
            leads[lead.id] = lead
    if contact_ids:
        for lead in await session.scalars(
            select(Lead)
            .where(Lead.contact_id.in_(contact_ids), Lead.status == "open")
            .order_by(Lead.id.desc())
            .limit(MAX_LEADS)
        ):
            leads.setdefault(lead.id, lead)
    slot: SlotRequest | None = None
    slot_id = slot_request_id_of(message) if message is not None else None
    if slot_id is not None:
        slot = await session.get(SlotRequest, slot_id)
    elif contact_ids:
        slot = await session.scalar(
            select(SlotRequest)
            .where(SlotRequest.contact_id.in_(contact_ids), SlotRequest.status == SlotRequestStatus.WAITING)
            .order_by(SlotRequest.id.desc())
            .limit(1)
        )
    first_contact = (
        contact_id
        if contact_id is not None
        else (slot.contact_id if slot else None)
        or next((lead.contact_id for lead in leads.values()), None)
        or (contact_ids[0] if contact_ids else None)
    )
    return ReplyTargets(contact_id=first_contact, leads=list(leads.values()), slot_request=slot)


async def slot_recipient_user(session: AsyncSession, request: SlotRequest) -> int | None:
    """Who answers the request (seed 001): the user, or the contact person's user, else the property manager."""
    if request.recipient_user_id is not None:
        return request.recipient_user_id
    prop = await session.get(Property, request.property_id) if request.property_id else None
    if prop is None:
        return request.created_by_user_id
    person = await first_contact_person(session, prop.id)
    if person is not None and person.user_id is not None:
        return person.user_id
    return prop.manager_user_id or request.created_by_user_id
