"""The recorded corpus covers what production histories hold: codec-encrypted payloads and a continue-as-new.

With IMMOFLOW_RECORD_HISTORIES=1 the scenarios below (re)record their histories; without it they still run
and check the workflow, and the corpus checks make sure the recorded files are there.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from db.session import SessionFactory
from settings import Settings
from starter.temporal.histories import HISTORIES_DIR, load_history, portable_json, recorded_histories
from starter.temporal.inquiries import start_inquiry_workflow
from tests import factories
from tests.lead_harness import RECORD, FakeLeadActivities, lead_worker, wait_status
from tests.replay_converter import production_converter
from tests.test_lead_workflow import close, monday_lead, start
from worker import WORKFLOWS, build_activities
from workflows.inquiry_models import InquiryState
from workflows.lead import LeadWorkflow
from workflows.lead_models import RunLimits, TaskCreated

pytestmark = pytest.mark.timeout(120)
ENCRYPTED = HISTORIES_DIR / "inquiry-known-prospect-encrypted.json"  # the path before LEAN_STEPS
ENCRYPTED_LEAN = HISTORIES_DIR / "inquiry-lean-known-prospect-encrypted.json"
CONTINUED = HISTORIES_DIR / "lead-continued-as-new.json"
CONTINUED_AS_NEW: Final = "workflow_execution_continued_as_new_event_attributes"
ENCRYPTED_ENCODING = base64.b64encode(b"binary/encrypted").decode()  # metadata values are base64 in JSON


@pytest.fixture
async def encrypting_client(workflow_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    config = workflow_env.client.config()
    config["data_converter"] = production_converter()
    yield Client(**config)


async def test_inquiry_with_the_payload_codec_records_an_encrypted_history(
    encrypting_client: Client, sessions: SessionFactory, settings: Settings, task_queue: str
) -> None:
    await factories.office(sessions)
    await factories.contact(sessions, email="verschluesselt@example.com")
    inquiry = await factories.inquiry(sessions, email="verschluesselt@example.com")
    async with Worker(
        encrypting_client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=build_activities(settings, sessions),
    ):
        handle = await start_inquiry_workflow(
            encrypting_client,
            inquiry_id=inquiry.id,
            workflow_id=inquiry.workflow_id,
            source=inquiry.source,
            property_ref=inquiry.property_ref,
            task_queue=task_queue,
        )
        assert (await handle.result()).state == InquiryState.COMPLETED
        history = await handle.fetch_history()
    assert ENCRYPTED_ENCODING in history.to_json()
    if RECORD:
        ENCRYPTED_LEAN.write_text(portable_json(history))


# A recording tool, not a check: on the time-skipping server the first run's end sometimes reaches its history
# late. The recorded file is checked below and replayed by tests/test_replay.py.
@pytest.mark.skipif(not RECORD, reason="records tests/histories/lead-continued-as-new.json")
async def test_lead_continue_as_new_records_its_first_run(workflow_env: WorkflowEnvironment, task_queue: str) -> None:
    lead, _ = await monday_lead(workflow_env)
    async with lead_worker(workflow_env, task_queue, FakeLeadActivities({1: lead}).all()):
        handle = await start(workflow_env, task_queue, limits=RunLimits(events_per_run=3))
        await wait_status(handle, lambda s: s.phase_id == 1)
        now = await workflow_env.get_current_time()
        for n in range(1, 6):
            task = TaskCreated(event_id=n, task_id=n, due_at=now + n * timedelta(days=1), created_at=now)
            await handle.signal(LeadWorkflow.task_created, task)
        await wait_status(handle, lambda s: s.events_applied == 5 and s.run_number >= 2)
        first = workflow_env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        async with asyncio.timeout(20):  # the first run's end reaches its history a moment after run 2 starts
            while not (first_run := await first.fetch_history()).events[-1].HasField(CONTINUED_AS_NEW):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await close(workflow_env, handle)
    assert first_run.events[-1].HasField(CONTINUED_AS_NEW)
    if RECORD:
        CONTINUED.write_text(portable_json(first_run))


def test_the_corpus_holds_an_encrypted_and_a_continued_history() -> None:
    texts = {path.name: path.read_text() for path in recorded_histories()}
    assert any(ENCRYPTED_ENCODING in text for text in texts.values()), "no codec-encrypted history"
    continued = [
        name
        for name in texts
        if load_history(HISTORIES_DIR / name)
        .events[-1]
        .HasField("workflow_execution_continued_as_new_event_attributes")
    ]
    assert continued, "no history that continues as new"


@pytest.mark.parametrize("path", [ENCRYPTED, ENCRYPTED_LEAN], ids=lambda path: path.stem)
async def test_an_encrypted_history_needs_the_production_converter(path: Path) -> None:
    history = load_history(path)
    plain = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    assert (await plain.replay_workflow(history, raise_on_replay_failure=False)).replay_failure is not None
    production = Replayer(workflows=list(WORKFLOWS), data_converter=production_converter())
    assert (await production.replay_workflow(history, raise_on_replay_failure=False)).replay_failure is None
