"""Delivers domain events from the outbox table to workflows, and marks each done only after delivery.

A process that dies between the CRM change and the delivery loses nothing: the event row was committed
with the change and is picked up again. Handlers must therefore be idempotent (business-key workflow
IDs, signals that carry the event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy import or_, select, update
from temporalio.client import Client

from db.base import utcnow
from db.models import DomainEvent
from db.session import SessionFactory

log = logging.getLogger(__name__)

EventHandler = Callable[[Client, DomainEvent], Awaitable[None]]
MAX_BACKOFF = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 12)), MAX_BACKOFF)


class Dispatcher:
    def __init__(
        self,
        sessions: SessionFactory,
        client: Client,
        handlers: Mapping[str, Sequence[EventHandler]],
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._handlers = handlers
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds

    async def run_once(self) -> int:
        """Deliver one batch of due events; returns how many were handled (delivered or failed)."""
        now = utcnow()
        async with self._sessions() as session:
            query = (
                select(DomainEvent)
                .where(
                    DomainEvent.dispatched_at.is_(None),
                    or_(DomainEvent.next_attempt_at.is_(None), DomainEvent.next_attempt_at <= now),
                )
                .order_by(DomainEvent.id)
                .limit(self._batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                # Several dispatchers (one per worker replica) share the table without double work.
                query = query.with_for_update(skip_locked=True)
            events = list(await session.scalars(query))
            for event in events:
                await self._deliver(event)
            await session.commit()
        return len(events)

    async def _deliver(self, event: DomainEvent) -> None:
        try:
            for handler in self._handlers.get(event.kind, ()):
                await handler(self._client, event)
        except Exception as exc:
            log.warning("event %s (%s) not delivered: %s", event.id, event.kind, exc)
            event.attempts += 1
            event.error = f"{type(exc).__name__}: {exc}"
            event.next_attempt_at = utcnow() + backoff(event.attempts)
            return
        event.dispatched_at = utcnow()
        event.error = None

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("dispatcher pass failed; retrying")
                handled = 0
            if handled < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._poll_seconds)


async def mark_undispatched(sessions: SessionFactory, event_id: int) -> None:
    """For operators: send one event through the dispatcher again."""
    async with sessions.begin() as session:
        await session.execute(
            update(DomainEvent)
            .where(DomainEvent.id == event_id)
            .values(dispatched_at=None, next_attempt_at=None, error=None)
        )
