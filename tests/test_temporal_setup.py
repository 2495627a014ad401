"""Search attribute registration: complete, idempotent, loud about a type conflict (real dev server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from settings import venv_binary
from starter.temporal.setup import SearchAttributeConflictError, dev_server_flags, register_search_attributes
from workflows.shared import IMMOFLOW_KIND, SEARCH_ATTRIBUTES


@workflow.defn(sandboxed=False)
class Probe:
    @workflow.run
    async def run(self) -> None:
        return None


@pytest.fixture
async def dev_server() -> AsyncIterator[Client]:
    """A fresh in-memory dev server per test: no attribute registered by anyone before."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), ui=False, dev_server_log_level="error"
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


async def _registered(client: Client) -> dict[str, int]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return dict(response.custom_attributes)


async def test_registers_every_attribute_with_its_type(dev_server: Client) -> None:
    added = await register_search_attributes(dev_server)

    assert added == [key.name for key in SEARCH_ATTRIBUTES]
    registered = await _registered(dev_server)
    for key in SEARCH_ATTRIBUTES:
        assert registered[key.name] == int(key.indexed_value_type), key.name


async def test_second_registration_changes_nothing(dev_server: Client) -> None:
    await register_search_attributes(dev_server)
    before = await _registered(dev_server)

    assert await register_search_attributes(dev_server) == []
    assert await _registered(dev_server) == before


async def test_registers_only_what_is_missing(dev_server: Client) -> None:
    first, *rest = SEARCH_ATTRIBUTES
    await register_search_attributes(dev_server, [first])

    assert await register_search_attributes(dev_server) == [key.name for key in rest]


async def test_conflicting_type_is_reported(dev_server: Client) -> None:
    key = SEARCH_ATTRIBUTES[0]
    await dev_server.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=dev_server.namespace, search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_INT}
        )
    )
    with pytest.raises(SearchAttributeConflictError, match=key.name):
        await register_search_attributes(dev_server)


async def test_registered_attributes_are_usable_in_visibility(dev_server: Client) -> None:
    """A workflow started with an attribute can be found by it: the point of registering them."""
    await register_search_attributes(dev_server)
    task_queue = f"tq-{uuid.uuid4()}"
    marker = f"probe-{uuid.uuid4().hex[:8]}"

    async with Worker(dev_server, task_queue=task_queue, workflows=[Probe]):
        await dev_server.execute_workflow(
            Probe.run,
            id=f"probe-{uuid.uuid4()}",
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(IMMOFLOW_KIND, marker)]),
        )
    query = f"{IMMOFLOW_KIND.name} = '{marker}'"
    count = 0
    for _ in range(50):  # visibility is eventually consistent: poll, bounded
        count = (await dev_server.count_workflows(query)).count
        if count:
            break
        await asyncio.sleep(0.1)
    assert count == 1


def test_dev_server_flags_name_every_attribute() -> None:
    flags = dev_server_flags()
    values = flags[1::2]
    assert flags[::2] == ["--search-attribute"] * len(SEARCH_ATTRIBUTES)
    assert "ImmoflowKind=Keyword" in values
    assert "LeadOverdue=Bool" in values
    assert len(values) == len(SEARCH_ATTRIBUTES)


async def test_time_skipping_server_registration_is_idempotent(workflow_env: WorkflowEnvironment) -> None:
    """That server cannot list attributes; the conftest fixture registered them, a second call must not fail."""
    assert await register_search_attributes(workflow_env.client) == []
