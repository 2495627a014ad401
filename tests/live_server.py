"""The real app served by uvicorn on a free local port, in the test's event loop (for browser tests).

The test's Temporal client is handed to the app, so a worker on the time-skipping server runs what the
pages start, and links in mails point at this server (public_base_url).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from temporalio.client import Client

from settings import Settings
from web.app import create_app


def live_settings(settings: Settings, port: int, task_queue: str) -> Settings:
    return settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}", "task_queue": task_queue})


@asynccontextmanager
async def live_server(settings: Settings, port: int, client: Client) -> AsyncIterator[str]:
    """Serve the app on PORT until the block ends; yields its base URL."""
    config = uvicorn.Config(
        create_app(settings, client=client), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()  # raises why it could not start (e.g. the port was taken meanwhile)
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
