"""Issue 17.7: link tokens never reach the access log (uvicorn's, as `immoflow web` runs it)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from settings import Settings
from starter.dev.config import free_port
from starter.ops.logs import configure_logging
from web.app import create_app

pytestmark = pytest.mark.one_backend

TOKEN = "eyJ3Zi1pZCI6ImlucXVpcnktMSJ9.c2lnbmF0dXJl-geheim"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_link_tokens_are_redacted_in_the_access_log(
    settings: Settings, capsys: pytest.CaptureFixture[str], restored_logging: None, log_format: str
) -> None:
    settings = settings.model_copy(update={"log_format": log_format})
    configure_logging(settings)
    port = free_port()
    # As `immoflow web` runs it: uvicorn's own access log, through immoflow's logging configuration.
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=True)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()  # raises why it could not start
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await http.get(f"/confirm/{TOKEN}")
            await http.get(f"/slots/{TOKEN}", params={"a": "1"})
    finally:
        server.should_exit = True
        await task
    logged = capsys.readouterr().err
    if log_format == "json":
        logged = "\n".join(json.loads(line)["message"] for line in logged.splitlines() if line.startswith("{"))
    assert "/confirm/…" in logged and "/slots/…?a=1" in logged
    assert TOKEN not in logged
