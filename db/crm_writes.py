"""CRM writes that other features react to, each with its domain event in the caller's transaction.

Shared by the CRM API (web/api/crm.py) and the automation actions, so an event looks the same
whoever made the change; DEPTH is the automation chain depth (0 for people, event depth + 1 for actions).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.crm import add_appointment
from db.events import ActivityCreated, ContactCreated, DealCreated, DealStageChanged, NoteCreated, record_event
from db.models import Activity, Contact, Deal, Note

__all__ = ["add_appointment"]  # the CRM API and automations import it from here


async def add_contact(session: AsyncSession, contact: Contact, *, depth: int = 0) -> Contact:
    session.add(contact)
    await session.flush()
    source = contact.source or ""
    record_event(
        session,
        ContactCreated(contact_id=contact.id, source=source, created_by_automation=source.startswith("automation")),
        depth=depth,
    )
    return contact


async def add_activity(session: AsyncSession, activity: Activity, *, depth: int = 0) -> Activity:
    session.add(activity)
    await session.flush()
    record_event(
        session,
        ActivityCreated(
            activity_id=activity.id,
            kind=activity.kind,
            reason=activity.reason,
            contact_id=activity.contact_id,
            property_id=activity.property_id,
            inquiry_id=activity.inquiry_id,
        ),
        depth=depth,
    )
    return activity


async def add_note(session: AsyncSession, note: Note, *, depth: int = 0) -> Note:
    session.add(note)
    await session.flush()
    record_event(
        session, NoteCreated(note_id=note.id, contact_id=note.contact_id, property_id=note.property_id), depth=depth
    )
    return note


async def add_deal(session: AsyncSession, deal: Deal, *, depth: int = 0) -> Deal:
    session.add(deal)
    await session.flush()
    record_event(
        session,
        DealCreated(deal_id=deal.id, stage=deal.stage, contact_id=deal.contact_id, property_id=deal.property_id),
        depth=depth,
    )
    return deal


async def change_deal_stage(
    session: AsyncSession, deal: Deal, stage: str, *, depth: int = 0, now: datetime | None = None
) -> bool:
    """Move DEAL to STAGE; False (and no event) when it is there already."""
    stage = " ".join(stage.split())
    if deal.stage == stage:
        return False
    previous, deal.stage, deal.updated_at = deal.stage, stage, now or utcnow()
    record_event(
        session,
        DealStageChanged(
            deal_id=deal.id,
            stage=stage,
            previous_stage=previous,
            contact_id=deal.contact_id,
            property_id=deal.property_id,
        ),
        depth=depth,
    )
    return True
