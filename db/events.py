"""Writing domain events into the outbox, inside the caller's transaction (never on their own)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import DomainEvent


def record_event(session: AsyncSession, kind: str, payload: dict[str, Any], *, depth: int = 0) -> DomainEvent:
    """Add the event to the session: it commits or rolls back together with the change it describes."""
    event = DomainEvent(kind=kind, payload=payload, depth=depth)
    session.add(event)
    return event
