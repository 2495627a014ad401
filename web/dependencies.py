"""What request handlers need (settings, database, Temporal), built once per app and injected."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
