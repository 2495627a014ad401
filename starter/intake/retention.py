"""Quarantine does not grow for ever: bodies that could not be accepted are deleted after the retention
(IMMOFLOW_QUARANTINE_RETENTION_DAYS). A raw payload an inquiry or a slot answer still points to is kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from db.models import Inquiry, QuarantinedPayload, RawPayload, SlotRequest
from db.session import SessionFactory

BATCH = 1000  # one short transaction per batch: a big backlog never holds a long lock


async def prune_quarantine(sessions: SessionFactory, *, now: datetime, retention: timedelta) -> int:
    """Delete quarantined payloads (and their raw bodies) older than RETENTION; returns how many went."""
    cutoff = now - retention
    removed = 0
    while True:
        async with sessions.begin() as session:
            rows = list(
                await session.execute(
                    select(QuarantinedPayload.id, QuarantinedPayload.raw_payload_id)
                    .where(QuarantinedPayload.created_at < cutoff)
                    .order_by(QuarantinedPayload.id)
                    .limit(BATCH)
                )
            )
            if not rows:
                return removed
            raw_ids = [raw_id for _, raw_id in rows]
            await session.execute(delete(QuarantinedPayload).where(QuarantinedPayload.id.in_([q for q, _ in rows])))
            referenced = select(Inquiry.raw_payload_id).where(Inquiry.raw_payload_id.in_(raw_ids))
            answered = select(SlotRequest.submission_id).where(SlotRequest.submission_id.in_(raw_ids))
            await session.execute(
                delete(RawPayload).where(
                    RawPayload.id.in_(raw_ids), RawPayload.id.not_in(referenced), RawPayload.id.not_in(answered)
                )
            )
            removed += len(rows)
