"""Office settings sections (validated pydantic documents) stored in app_settings."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import AppSetting

M = TypeVar("M", bound=BaseModel)

# The inquiry manager's section (seeds 002 and 000), read by its workflow's snapshot and written by the office.
INQUIRY_MANAGER_KEY = "inquiry_manager"


async def load_section(session: AsyncSession, key: str, model: type[M]) -> M:
    """The stored section, or the model's defaults when the office never saved it."""
    row = await session.get(AppSetting, key)
    return model.model_validate(row.value) if row is not None else model()


async def save_section(session: AsyncSession, key: str, value: BaseModel) -> None:
    """Caller commits."""
    document = value.model_dump(mode="json")
    row = await session.scalar(select(AppSetting).where(AppSetting.key == key))
    if row is None:
        session.add(AppSetting(key=key, value=document, updated_at=utcnow()))
    else:
        row.value = document
        row.updated_at = utcnow()
