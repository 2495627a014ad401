"""The office's mail templates: list, look up and store them, and render previews without stalling the app.

Whether a template may be stored is decided by its preview (web.pages.template_preview renders it on demo
data); this module runs that rendering off the event loop, a bounded number at a time, and writes the row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select

from db.models import MessageTemplate
from db.session import SessionFactory
from settings import Settings
from starter.services.context import Services

T = TypeVar("T")

# Previews share the process's CPU (and GIL) with every other request: at most this many at a time.
_PREVIEWS = asyncio.Semaphore(2)


async def list_templates(services: Services) -> list[MessageTemplate]:
    """Every mail template, by key."""
    async with services.sessions() as session:
        return list(await session.scalars(select(MessageTemplate).order_by(MessageTemplate.key)))


async def find_template(services: Services, key: str) -> MessageTemplate | None:
    """The template with KEY, or None."""
    async with services.sessions() as session:
        return await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))


async def save_template(services: Services, template_id: int, subject: str, body: str, now: datetime) -> bool:
    """Store a checked SUBJECT and BODY; False when the template is gone meanwhile."""
    async with services.sessions.begin() as session:
        row = await session.get(MessageTemplate, template_id)
        if row is None:
            return False
        row.subject, row.body, row.updated_at = subject, body, now
        return True


async def render_preview(services: Services, render: Callable[[Settings, SessionFactory], T]) -> T:
    """RENDER(settings, sessions) in a worker thread: rendering is CPU work bounded by the template budget
    (~2 s at worst), which must not block the event loop nor, many at once, starve the other requests."""
    async with _PREVIEWS:
        return await asyncio.to_thread(render, services.settings, services.sessions)
