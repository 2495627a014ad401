"""PostgreSQL refusing every connection during intake: 503 with Retry-After, nothing half-written, then recovery.

The test creates its own database on the server of IMMOFLOW_TEST_POSTGRES_URL and blocks it the way an
outage looks to the apps: new connections refused (ALLOW_CONNECTIONS false), open ones terminated.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from benchmarks.stack import ProcessStack
from db.models import Inquiry, RawPayload
from tests.chaos.support import Inspector, Planned, assert_exactly_once, configure, plan, submit

POSTGRES_URL = os.environ.get("IMMOFLOW_TEST_POSTGRES_URL")


@pytest.fixture
def scratch_database() -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL of a new database, libpq URL of the server's admin database); dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("IMMOFLOW_TEST_POSTGRES_URL not set")
    server = make_url(POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"))
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"immoflow_chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False), admin
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _block(admin: str, database: str, *, blocked: bool) -> None:
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"false" if blocked else "true"}')
        if blocked:
            connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))


async def _count(inspector: Inspector, model: type[RawPayload] | type[Inquiry]) -> int:
    from sqlalchemy import func, select

    async with inspector.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_database_outage_during_intake(tmp_path: Path, scratch_database: tuple[str, str]) -> None:
    url, admin = scratch_database
    database = make_url(url).database
    assert database
    async with ProcessStack(tmp_path / "stack", database_url=url) as stack:
        await stack.start()
        inspector = Inspector(stack)
        try:
            await configure(stack, followup_interval="PT6S", followup_attempts=1, final_notice="none")
            before = plan(known=4, expires=4)
            await submit(stack, before)  # these are in flight in the worker when the database goes
            raw_before, inquiries_before = await _count(inspector, RawPayload), await _count(inspector, Inquiry)

            await asyncio.to_thread(_block, admin, database, blocked=True)
            during = [Planned("known") for _ in range(3)] + [Planned("expires") for _ in range(3)]
            async with stack.http() as http:
                for item in during:
                    response = await http.post("/api/inquiries", json=item.payload())
                    assert response.status_code == 503, response.text
                    assert int(response.headers["retry-after"]) > 0
                    assert set(response.json()) == {"detail"} and "Traceback" not in response.text
                listing = await http.get("/api/inquiries")
                assert listing.status_code == 503 and "retry-after" in listing.headers
            await asyncio.sleep(8)  # the worker's activities meet the outage too, and keep retrying
            await asyncio.to_thread(_block, admin, database, blocked=False)

            await inspector.engine.dispose()  # its pooled connections were terminated
            assert await _count(inspector, RawPayload) == raw_before, "a refused request left a raw payload"
            assert await _count(inspector, Inquiry) == inquiries_before
            seen = await submit(stack, during)  # the portals retry after Retry-After
            assert seen[201] == len(during), seen

            everything = [*before, *during]
            await inspector.wait_final(everything, within=150)
            await assert_exactly_once(inspector, everything, attempts=1, notice="none")
            assert await inspector.half_written() == []
            assert stack.children["worker"].exit_code() is None, stack.log_tail("worker")
        finally:
            await inspector.close()
