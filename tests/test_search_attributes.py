"""Ops find inquiries in the Temporal UI by typed search attributes (a real dev server: the time-skipping
server has no visibility)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from settings import Settings, venv_binary
from starter.temporal.setup import register_search_attributes
from tests import factories
from tests.inquiry_harness import running_harness
from workflows.inquiry_models import InquiryState

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=pydantic_data_converter,
        ui=False,
    )
    await register_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


async def listed(client: Client, query: str, expected: int) -> list[str]:
    """Visibility is eventually consistent: poll until the filter returns EXPECTED workflows."""
    async with asyncio.timeout(20):
        while True:
            ids = [execution.id async for execution in client.list_workflows(query)]
            if len(ids) == expected:
                return ids
            await asyncio.sleep(0.2)


async def test_ops_filter_inquiries_by_status_and_property(
    dev_server: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> None:
    await factories.office(sessions)
    client = dev_server.client
    async with running_harness(client, sessions, settings, task_queue, versioned=True) as harness:
        waiting = await factories.inquiry(sessions, email="wartet@example.com")
        ignored = await factories.inquiry(sessions, email="egal@example.com", property_ref="W-1002")
        handle = await harness.start(waiting)
        await harness.start(ignored)
        await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
        query = 'InquiryStatus="waiting_for_confirmation" AND PropertyRef="W-1001" AND ImmoflowKind="inquiry"'
        assert await listed(client, f"{query} AND TaskQueue='{task_queue}'", 1) == [waiting.workflow_id]
        ignored_query = f'InquiryStatus="ignored" AND PropertyRef="W-1002" AND TaskQueue="{task_queue}"'
        assert await listed(client, ignored_query, 1) == [ignored.workflow_id]

        description = await handle.describe()
        assert await description.static_summary() == "Inquiry W-1001 from immoscout24"
        # What the UI shows as "current details": the step and when the next one is due.
        metadata = await handle.query("__temporal_workflow_metadata")
        # One language for ops texts: English, like the summary and the activity summaries.
        assert "waiting_for_confirmation; reminder 1 due " in str(metadata)
        # Nothing personal in what ops can see without opening the history.
        attributes = {key.name: value for key, value in description.typed_search_attributes}
        visible = str(attributes) + str(await description.static_details()) + str(metadata)
        assert "wartet@example.com" not in visible and "Neu" not in visible
        await handle.cancel()
