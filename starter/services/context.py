"""What every use case needs (settings, database, Temporal), built once per process and handed to services."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from db.session import SessionFactory
from settings import Settings
from starter.temporal.client import connect_client


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    _client: Client | None = None
    _client_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal(self) -> Client:
        """Connect lazily, so the web app starts (and stores intake) even while Temporal is down."""
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    self._client = await connect_client(self.settings)
        return self._client
