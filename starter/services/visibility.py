"""Refusing work on a property hidden from the caller, inside the use case that does the work.

The caller's condition comes from web.security.visibility (`property_condition`); None means the caller
sees everything, and an unknown property is then left to the use case's own check (a 422 with its reason).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Property


class PropertyHiddenError(Exception):
    """The property does not exist or is not visible to the caller; answered as 404, as if it did not exist."""


async def check_property_visible(
    session: AsyncSession, property_id: int | None, visible: ColumnElement[bool] | None
) -> None:
    """Raise PropertyHiddenError unless PROPERTY_ID (when given) satisfies VISIBLE (when given)."""
    if property_id is None or visible is None:
        return
    found = await session.scalar(select(Property.id).where(Property.id == property_id, visible))
    if found is None:
        raise PropertyHiddenError
