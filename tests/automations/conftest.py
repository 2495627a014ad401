"""Automation runs end to end: the office's data, a worker with the automation workflows and dispatcher, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from settings import Settings
from tests.automation_harness import AutomationHarness, Office, running, seed_office
from tests.http import app_client


@pytest.fixture
async def office(sessions: SessionFactory) -> Office:
    return await seed_office(sessions)


@pytest.fixture
async def auto(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[AutomationHarness]:
    async with running(workflow_env.client, sessions, settings, task_queue) as harness:
        yield harness


@pytest.fixture
async def api(settings: Settings, workflow_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, workflow_env.client) as http:
        yield http
