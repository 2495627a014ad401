"""The "needs attention" count: workflows whose tasks keep failing (Temporal's TemporalReportedProblems on
a dev server started as `immoflow dev` starts it) and deliveries retried 5+ times, on /healthz, /metrics
and the dashboard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import Message
from db.models.messaging import MessageStatus
from db.session import SessionFactory
from settings import Settings, venv_binary
from starter.services.attention import ATTENTION_ATTEMPTS, TASK_PROBLEMS_FLAG, Attention, needs_attention
from tests.broken_workflow import BrokenWorkflow
from tests.http import app_client

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]


@pytest.fixture
async def dev_client() -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        ui=False,
        dev_server_log_level="error",
        data_converter=pydantic_data_converter,
        dev_server_extra_args=list(TASK_PROBLEMS_FLAG),
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


async def _retrying_message(sessions: SessionFactory, attempts: int, key: str) -> None:
    async with sessions.begin() as session:
        session.add(
            Message(
                channel="email",
                idempotency_key=key,
                sender="a@office.example",
                recipient="b@example.com",
                subject="s",
                body_text="t",
                status=MessageStatus.RETRYING,
                attempts=attempts,
            )
        )


async def test_failing_workflow_and_stuck_delivery_need_attention(
    dev_client: Client, sessions: SessionFactory, settings: Settings
) -> None:
    await _retrying_message(sessions, ATTENTION_ATTEMPTS, "stuck")
    await _retrying_message(sessions, 1, "weather")  # one retry is no problem yet

    async def connect() -> Client:
        return dev_client

    assert await needs_attention(sessions, connect) == Attention(failing_workflow_tasks=0, retrying_deliveries=1)
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(dev_client, task_queue=task_queue, workflows=[BrokenWorkflow]):
        await dev_client.start_workflow(BrokenWorkflow.run, id=f"broken-{uuid.uuid4()}", task_queue=task_queue)
        async with asyncio.timeout(60):
            while (attention := await needs_attention(sessions, connect)).failing_workflow_tasks != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
        assert attention.total == 2
        # development: /healthz shows its details there (elsewhere only with the ops token, issue 17)
        async with app_client(settings.model_copy(update={"env": "development"}), dev_client) as http:
            health = (await http.get("/healthz")).json()
            metrics = (await http.get("/metrics")).text
            dashboard = (await http.get("/dashboard")).text
    assert health["needs_attention"] == {"total": 2, "failing_workflow_tasks": 1, "retrying_deliveries": 1}
    assert 'immoflow_needs_attention{kind="workflow_task"} 1.0' in metrics
    assert 'immoflow_needs_attention{kind="delivery"} 1.0' in metrics
    assert "Braucht Aufmerksamkeit: 2" in dashboard


async def test_without_temporal_the_count_is_unknown_not_zero(sessions: SessionFactory) -> None:
    async def unreachable() -> Client:
        raise RuntimeError("connection refused")

    attention = await needs_attention(sessions, unreachable)
    assert attention.failing_workflow_tasks is None and attention.retrying_deliveries == 0
