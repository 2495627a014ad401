"""Time-slot tests share one fixture: a worker with the time-slot workflow, the office's data, the SMTP sink."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from settings import Settings
from tests.slot_harness import SlotHarness, running_slot_harness


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[SlotHarness]:
    async with running_slot_harness(workflow_env, sessions, settings, task_queue) as harness:
        yield harness
