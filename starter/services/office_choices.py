"""The select lists office forms offer (contacts, properties, users, sales processes), read in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contact, Property, SalesProcess, User
from starter.services.context import Services

# A select list is for picking, not browsing: beyond this an office needs search, which these forms lack.
LIMIT = 1000


async def office_choices(session: AsyncSession, visible: ColumnElement[bool] | None = None) -> dict[str, Any]:
    """VISIBLE: a condition on Property (web.security.visibility.property_condition): agents pick from theirs."""
    contacts = await session.scalars(select(Contact).order_by(Contact.last_name, Contact.first_name).limit(LIMIT))
    properties = await session.scalars(
        select(Property).where(visible if visible is not None else true()).order_by(Property.external_ref).limit(LIMIT)
    )
    users = await session.scalars(select(User).where(User.is_active).order_by(User.name))
    processes = await session.scalars(select(SalesProcess).order_by(SalesProcess.name))
    return {
        "contacts": list(contacts),
        "properties": list(properties),
        "users": list(users),
        "processes": list(processes),
    }


async def office_users(services: Services, *, active_only: bool = True) -> list[User]:
    """The users to pick from (owner, manager, visibility), by name; ACTIVE_ONLY=False for filters over
    existing rows, which may name a deactivated user."""
    query = select(User).order_by(User.name)
    if active_only:
        query = query.where(User.is_active)
    async with services.sessions() as session:
        return list(await session.scalars(query))
