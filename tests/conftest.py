"""Shared fixtures: a time-skipping Temporal per test, SQLite and PostgreSQL databases migrated once."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.base import Base
from db.migrate import upgrade_sync
from db.session import SessionFactory, create_engine, make_session_factory
from settings import Settings, venv_binary
from starter.dev.smtp_sink import SmtpSink

POSTGRES_URL = os.environ.get("IMMOFLOW_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("IMMOFLOW_REQUIRE_POSTGRES") == "1"
_exit_status = 0


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_POSTGRES and not POSTGRES_URL:
        raise pytest.UsageError("IMMOFLOW_REQUIRE_POSTGRES=1 but IMMOFLOW_TEST_POSTGRES_URL is not set")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`pytest.mark.one_backend`: a test whose subject is not the database (a browser page, a workflow's
    branching seen through the web app) runs on one backend only: PostgreSQL, production's, when configured,
    else SQLite. Tests of queries, activities and migrations keep running on both."""
    keep = "postgres" if POSTGRES_URL else "sqlite"
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec is not None else None
        one_backend = item.get_closest_marker("one_backend") is not None
        (deselected if one_backend and backend not in (None, keep) else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The SDK's Rust threads can abort CPython's finalisation (temporalio/sdk-python#300) after every
    # test passed; leave with pytest's own verdict instead (xdist workers excepted).
    if not hasattr(config, "workerinput"):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)


# --- Temporal -------------------------------------------------------------------------------------------


async def register_search_attributes(client: Client) -> None:
    # The same idempotent registration `immoflow dev` and `immoflow temporal setup` use.
    from starter.temporal.setup import register_search_attributes as register

    await register(client)


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own (it starts in ~0.1 s).

    One server shared by many tests is fragile: a workflow a test leaves behind (a timer that fires after
    its worker stopped, an activity in flight at termination) holds the server's time-skipping lock, and
    every later `result()` then waits in real time. A server per test makes each test's clock its own.
    """
    async with time_skipping_server() as env:
        yield env


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


# --- Databases ------------------------------------------------------------------------------------------

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_sync(url)
    return url


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """IMMOFLOW_TEST_POSTGRES_URL; under pytest-xdist each worker gets a database of its own next to it."""
    if not POSTGRES_URL:
        pytest.skip("IMMOFLOW_TEST_POSTGRES_URL not set")
    if worker_id == "master":
        upgrade_sync(POSTGRES_URL)
        yield POSTGRES_URL
        return
    with worker_database(POSTGRES_URL, suffix=worker_id) as url:
        upgrade_sync(url)
        yield url


@contextmanager
def worker_database(url: str, suffix: str) -> Iterator[str]:
    """A fresh database `<name>_<suffix>` on the server of `url`, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(url)
    name = f"{server.database}_{suffix}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    def run(*statements: str) -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Parametrised: every test using it runs on SQLite, and on PostgreSQL when configured."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


async def truncate_all(engine: AsyncEngine) -> None:
    # Only tables the migrations created: a model without its migration is caught by test_migrations'
    # `alembic check`, not by every other test failing here.
    async with engine.begin() as connection:
        existing = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        tables = [table.name for table in reversed(Base.metadata.sorted_tables) if table.name in existing]
        if engine.dialect.name == "postgresql":
            # TRUNCATE costs per table (~190 ms for all of them): empty only the tables a test wrote to, and
            # restart every sequence (an insert rolled back leaves an empty table with an advanced one).
            probe = " UNION ALL ".join(f"SELECT '{table}' WHERE EXISTS (SELECT FROM {table})" for table in tables)
            used = list((await connection.execute(text(probe))).scalars())
            if used:
                await connection.execute(text(f"TRUNCATE {', '.join(used)} CASCADE"))
            await connection.execute(text("SELECT setval(oid::regclass, 1, false) FROM pg_class WHERE relkind = 'S'"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await truncate_all(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return make_session_factory(engine)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_sink: SmtpSink) -> Iterator[Settings]:
    yield Settings(
        env="test",
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        public_base_url="http://testserver",
    )


# --- SMTP -----------------------------------------------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


# --- Browser --------------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never a browser downloaded by playwright
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright  # only browser tests pay for the import

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()
