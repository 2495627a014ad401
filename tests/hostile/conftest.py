"""Hostile-input tests: the real app in-process (tests/http.py), SQLite, a real Temporal test server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from httpx import AsyncClient
from pydantic import SecretStr
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.migrate import upgrade_sync
from db.models import QuarantinedPayload, RawPayload
from db.session import SessionFactory, create_engine, make_session_factory
from settings import Settings
from starter.dev.demo import load_demo_data
from starter.intake.service import BASE64_MARKER
from tests.conftest import time_skipping_server, truncate_all
from tests.http import app_client

# Text no field should choke on: SQL, markup, template syntax, header injection, control and odd unicode.
NASTY = [
    "Robert'); DROP TABLE inquiries;--",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ ''.__class__.__mro__ }}",
    "{% for i in range(99999) %}x{% endfor %}",
    "x\r\nBcc: victim@example.com",
    "x\nSubject: forged",
    "\x00\x01\x1b[31m",
    "\u202etxt.exe",
    "../../../../etc/passwd",
    "%0d%0aSet-Cookie:x=1",
    "A" * 5000,
    "😀" * 300,
    "-1",
    "9" * 40,
    "null",
    "[]",
]


@dataclass
class HostileApp:
    http: AsyncClient
    sessions: SessionFactory
    settings: Settings

    async def quarantined(self, quarantine_id: int) -> tuple[QuarantinedPayload, RawPayload]:
        async with self.sessions() as session:
            row = await session.get(QuarantinedPayload, quarantine_id)
            assert row is not None, f"quarantine row {quarantine_id} missing"
            raw = await session.get(RawPayload, row.raw_payload_id)
            assert raw is not None
            return row, raw

    async def raw_bodies(self, channel: str) -> list[str]:
        async with self.sessions() as session:
            return list(await session.scalars(select(RawPayload.body).where(RawPayload.channel == channel)))


def stored_bytes(raw: RawPayload) -> bytes:
    """The body as the caller sent it, undoing the base64 the intake uses for non-text bodies."""
    import base64

    if raw.content_type and raw.content_type.endswith(BASE64_MARKER):
        return base64.b64decode(raw.body)
    return raw.body.encode()


@asynccontextmanager
async def running_hostile_app(
    data_dir: Path, database_url: str, client: Client, task_queue: str
) -> AsyncIterator[HostileApp]:
    """The app on DATABASE_URL emptied and holding the demo office. Temporal is real (workflows start) but
    nothing polls TASK_QUEUE: the HTTP layer alone is under test."""
    engine = create_engine(database_url)
    await truncate_all(engine)
    await load_demo_data(make_session_factory(engine))
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        secret_key=SecretStr("hostile-secret"),
        smtp_host="127.0.0.1",
        smtp_port=1,
        public_base_url="http://testserver",
        task_queue=task_queue,
        # The fuzzers send hundreds of requests a minute from one client: the rate limits have their own tests.
        intake_rate_per_minute=1_000_000,
        prospect_rate_per_minute=1_000_000,
    )
    try:
        async with app_client(settings, client) as http:
            yield HostileApp(http, make_session_factory(engine), settings)
    finally:
        await engine.dispose()


@pytest.fixture
async def hostile_app(
    tmp_path: Path, sqlite_url: str, workflow_env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[HostileApp]:
    async with running_hostile_app(tmp_path, sqlite_url, workflow_env.client, task_queue) as app:
        yield app


@pytest.fixture(scope="module")
async def module_hostile_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HostileApp]:
    """One app, database and Temporal test server for a module of fuzz tests, which do not care what their
    neighbours left behind: set up per test, they spent a third of their time in setup. The database is the
    module's own file, so that the tests other modules run in between on this xdist worker cannot empty it."""
    data_dir = tmp_path_factory.mktemp("hostile")
    database_url = f"sqlite+aiosqlite:///{data_dir / 'hostile.db'}"
    await asyncio.to_thread(upgrade_sync, database_url)  # alembic runs its own event loop
    async with (
        time_skipping_server() as env,
        running_hostile_app(data_dir, database_url, env.client, f"tq-{uuid.uuid4()}") as app,
    ):
        yield app


def json_dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
