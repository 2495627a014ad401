"""Mail templates in the database, seeded with the German defaults; rendering goes through the sandbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import MessageTemplate
from messaging.default_templates import DefaultTemplate, defaults
from messaging.templating import render_mail


async def ensure_default_templates(
    session: AsyncSession, templates: Iterable[DefaultTemplate] | None = None
) -> list[str]:
    """Insert the defaults the office does not have yet (never overwrites an edited one). Caller commits."""
    wanted = list(templates if templates is not None else defaults())
    present = set(
        await session.scalars(select(MessageTemplate.key).where(MessageTemplate.key.in_([t.key for t in wanted])))
    )
    added = []
    for template in wanted:
        if template.key not in present:
            session.add(
                MessageTemplate(
                    key=template.key,
                    name=template.name,
                    subject=template.subject,
                    body=template.body,
                    updated_at=utcnow(),
                )
            )
            added.append(template.key)
    return added


class MissingTemplateError(LookupError):
    pass


async def render_template(session: AsyncSession, key: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of template KEY; raises MissingTemplateError or TemplateRenderError."""
    template = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
    if template is None:
        raise MissingTemplateError(f"template {key!r} does not exist")
    return render_mail(template.subject, template.body, context)
