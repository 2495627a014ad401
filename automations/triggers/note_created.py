"""A note was added to a contact or a property (`note.created`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import EventData, FactField, Trigger, payload_int
from db.models import Note


class NoteCreated(Trigger):
    kind = "note.created"
    label = "Notiz angelegt"
    fields = (FactField("text", "Text der Notiz"),)

    async def facts(self, session: AsyncSession, event: EventData) -> dict[str, Any]:
        note_id = payload_int(event, "note_id")
        note = await session.get(Note, note_id) if note_id is not None else None
        if note is None:
            keys = ("text", "contact_id", "property_id")
            return {"note_id": note_id, **{key: event.payload.get(key) for key in keys}}
        return {
            "note_id": note.id,
            "text": note.text,
            "contact_id": note.contact_id,
            "property_id": note.property_id,
            "user_id": note.user_id,
        }


TRIGGER = NoteCreated()
