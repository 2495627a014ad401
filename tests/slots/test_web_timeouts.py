"""Web calls of updates have a timeout: no worker means a human 503 page with Retry-After, not a hanging
browser; and a slot link handed out a moment ago works even before its workflow is ready."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from domain.links import LinkSigner
from messaging.inquiry_mail import CONFIRM_PURPOSE
from settings import Settings
from starter.services import confirmations as confirm_service
from starter.services import slots as slot_service
from starter.temporal.inquiries import start_inquiry_workflow
from starter.temporal.slots import start_slot_workflow
from tests import factories
from tests.http import app_client
from tests.slot_harness import SlotHarness, proposals
from tests.slots.test_slot_pages import form_data, path
from web.pages import slots as slot_pages
from workflows.slot_models import SlotState

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]
SHORT = 0.5  # seconds; the production constants are 10 s


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slot_pages, "UPDATE_TIMEOUT_SECONDS", SHORT)
    monkeypatch.setattr(confirm_service, "UPDATE_TIMEOUT_SECONDS", SHORT)
    monkeypatch.setattr(slot_service, "ACCEPT_TIMEOUT_SECONDS", SHORT)


def nobody() -> str:
    return f"nobody-polls-{uuid.uuid4()}"


async def test_slot_answer_without_worker_gets_503_page(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now)
    handle = await start_slot_workflow(workflow_env.client, request_id=request.id, task_queue=nobody())
    try:
        async with app_client(settings, workflow_env.client, auth=None) as http, asyncio.timeout(SHORT * 20):
            page = await http.post(path(settings, request), data=form_data(proposals(now, 1)))
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert "nicht erreichbar" in page.text
    finally:
        await handle.terminate()


async def test_confirmation_without_worker_gets_503_page(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    await factories.office(sessions)
    inquiry = await factories.inquiry(sessions, email="wartet@example.com")
    handle = await start_inquiry_workflow(
        workflow_env.client,
        inquiry_id=inquiry.id,
        workflow_id=inquiry.workflow_id,
        source=inquiry.source,
        property_ref=inquiry.property_ref,
        task_queue=nobody(),
    )
    token = LinkSigner(settings.effective_secret_key()).sign(
        CONFIRM_PURPOSE,
        workflow_id=inquiry.workflow_id,
        nonce="n" * 24,
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    form = {"first_name": "Nina", "last_name": "Neu", "zip_code": "10117", "city": "Berlin", "street": "Weg 1"}
    try:
        async with app_client(settings, workflow_env.client, auth=None) as http, asyncio.timeout(SHORT * 20):
            page = await http.post(f"/confirm/{token}", data=form)
        assert page.status_code == 503 and page.headers["Retry-After"]
    finally:
        await handle.terminate()


async def test_choosing_without_worker_answers_503_with_retry_after(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    request = await harness.create(await workflow_env.get_current_time())
    handle = await start_slot_workflow(workflow_env.client, request_id=request.id, task_queue=nobody())
    try:
        async with app_client(settings, workflow_env.client) as http, asyncio.timeout(SHORT * 20):
            response = await http.post(f"/api/slot-requests/{request.id}/choose", json={"position": 1})
        assert response.status_code == 503 and response.headers["Retry-After"]
    finally:
        await handle.terminate()


async def test_a_link_answered_right_after_it_was_handed_out_works(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    api_settings = settings.model_copy(update={"task_queue": harness.task_queue})
    now = await workflow_env.get_current_time()
    async with app_client(api_settings, workflow_env.client) as http:
        for attempt in range(4):
            created = await http.post(
                "/api/slot-requests",
                json={
                    "contact_id": harness.office.prospect_id,
                    "property_id": harness.office.property_id,
                    "recipient": "user",
                    "recipient_user_id": harness.office.agent_id,
                    "response_types": ["email"],
                },
            )
            assert created.status_code == 201, created.text
            link = created.json()["link"].removeprefix(settings.public_base_url)
            page = await http.post(link, data=form_data(proposals(now, 1)))
            assert page.status_code == 200, (attempt, page.status_code, page.text[:300])
            handle = workflow_env.client.get_workflow_handle(f"slots-{created.json()['id']}")
            assert (await harness.wait_for(handle, SlotState.ANSWERED)).state == SlotState.ANSWERED
            await handle.terminate()
