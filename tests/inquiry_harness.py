"""Drives InquiryWorkflow on the time-skipping server with the real activities, database and SMTP sink."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from db.app_settings import save_section
from db.models import Inquiry, InquiryStep, Message, RawPayload, Task
from db.session import SessionFactory
from domain.links import LinkSigner
from messaging.inquiry_mail import CONFIRM_PURPOSE
from settings import Settings
from starter.temporal.histories import HISTORIES_DIR, portable_json
from starter.temporal.inquiries import start_inquiry_workflow
from tests.versioning import versioned_worker
from worker import INTERCEPTORS, WORKFLOWS, build_activities
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import ConfirmationInput, InquiryManagerConfig, InquiryState

LINK = re.compile(r"/confirm/(\S+)")


@dataclass
class InquiryHarness:
    client: Client
    sessions: SessionFactory
    settings: Settings
    task_queue: str

    async def configure(self, **overrides: Any) -> InquiryManagerConfig:
        config = InquiryManagerConfig.model_validate(overrides)
        async with self.sessions.begin() as session:
            await save_section(session, "inquiry_manager", config)
        return config

    async def start(self, inquiry: Inquiry) -> WorkflowHandle[InquiryWorkflow, Any]:
        # The handle start_workflow returns is the one that lets the test server skip time in result().
        return await start_inquiry_workflow(
            self.client,
            inquiry_id=inquiry.id,
            workflow_id=inquiry.workflow_id,
            source=inquiry.source,
            property_ref=inquiry.property_ref,
            task_queue=self.task_queue,
        )

    async def wait_for_state(
        self, handle: WorkflowHandle[InquiryWorkflow, Any], state: InquiryState, within: float = 20
    ) -> None:
        """Poll the workflow's query: the state we wait for is the workflow's, not an event of ours."""
        async with asyncio.timeout(within):
            while (await handle.query(InquiryWorkflow.current)).state != state:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def messages(self, inquiry_id: int) -> list[Message]:
        async with self.sessions() as session:
            rows = await session.scalars(select(Message).where(Message.inquiry_id == inquiry_id).order_by(Message.id))
            return list(rows)

    async def tasks(self, inquiry_id: int) -> list[Task]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Task).where(Task.inquiry_id == inquiry_id).order_by(Task.id)))

    async def row(self, inquiry_id: int) -> Inquiry:
        async with self.sessions() as session:
            row = await session.get(Inquiry, inquiry_id)
            assert row is not None
            return row

    async def timeline(self, inquiry_id: int) -> list[str]:
        async with self.sessions() as session:
            steps = await session.scalars(
                select(InquiryStep.key).where(InquiryStep.inquiry_id == inquiry_id).order_by(InquiryStep.id)
            )
            return list(steps)

    @staticmethod
    async def activity_times(handle: WorkflowHandle[InquiryWorkflow, Any], *names: str) -> list[datetime]:
        """When the server scheduled the activities NAMES: the workflow's own clock, which the test server skips."""
        history = await handle.fetch_history()
        return [
            event.event_time.ToDatetime(tzinfo=UTC)
            for event in history.events
            if event.HasField("activity_task_scheduled_event_attributes")
            and event.activity_task_scheduled_event_attributes.activity_type.name in names
        ]

    @staticmethod
    async def record(handle: WorkflowHandle[InquiryWorkflow, Any], scenario: str) -> None:
        """IMMOFLOW_RECORD_HISTORIES=1 keeps this run's history as tests/histories/inquiry-lean-<scenario>.json.

        The lean path's own files: tests/histories/inquiry-<scenario>.json hold the path before it (LEAN_STEPS)
        and keep replaying; they are never recorded again."""
        if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
            path = HISTORIES_DIR / f"inquiry-lean-{scenario}.json"
            path.write_text(portable_json(await handle.fetch_history()))

    def nonce_from(self, message: Message) -> str:
        match = LINK.search(message.body_text)
        assert match, f"no confirmation link in: {message.body_text}"
        return LinkSigner(self.settings.effective_secret_key()).verify(CONFIRM_PURPOSE, match.group(1)).nonce

    async def submission(self, **fields: Any) -> int:
        """Stores a confirmation form submission the way the /confirm page does."""
        data = {"first_name": "Nina", "last_name": "Neu", "zip_code": "10117", "city": "Berlin", **fields}
        async with self.sessions.begin() as session:
            raw = RawPayload(channel="confirm-form", content_type="application/json", body=json.dumps(data))
            session.add(raw)
            await session.flush()
            return raw.id

    async def confirm(self, handle: WorkflowHandle[InquiryWorkflow, Any], nonce: str, **fields: Any) -> None:
        submission_id = await self.submission(**fields)
        await handle.execute_update(
            InquiryWorkflow.confirm, ConfirmationInput(nonce=nonce, submission_id=submission_id)
        )


@asynccontextmanager
async def running_harness(
    client: Client, sessions: SessionFactory, settings: Settings, task_queue: str, *, versioned: bool = False
) -> AsyncIterator[InquiryHarness]:
    """VERSIONED: on a dev server, where the workflows' versioning behaviours need a versioned worker."""
    options: dict[str, Any] = {
        "task_queue": task_queue,
        "workflows": list(WORKFLOWS),
        "activities": build_activities(settings, sessions),
        "interceptors": INTERCEPTORS,
    }
    async with versioned_worker(client, **options) if versioned else Worker(client, **options):
        yield InquiryHarness(client, sessions, settings, task_queue)
