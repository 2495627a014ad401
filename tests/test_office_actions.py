"""The agent's buttons against a real InquiryWorkflow: resend, cancel, "not a duplicate", and refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.models import User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests import factories
from tests.http import app_client, login
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import InquiryState

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]
FLASH = re.compile(r'<div class="flash (\w+)" role="status">([^<]*)</div>')


@dataclass
class Office:
    harness: InquiryHarness
    http: AsyncClient

    async def waiting_inquiry(self, email: str) -> tuple[int, WorkflowHandle[InquiryWorkflow, Any]]:
        inquiry = await factories.inquiry(self.harness.sessions, email=email)
        handle = await self.harness.start(inquiry)
        await self.harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
        return inquiry.id, handle

    async def act(self, inquiry_id: int, action: str, **form: str) -> tuple[str, str]:
        """POST the button's form, follow the redirect like a browser; (flash kind, flash text)."""
        response = await self.http.post(f"/dashboard/inquiries/{inquiry_id}/{action}", data=form)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/dashboard/inquiries/{inquiry_id}"
        page = await self.http.get(response.headers["location"])
        [(kind, text)] = FLASH.findall(page.text)
        return kind, text


@pytest.fixture
async def office(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[Office]:
    await factories.office(sessions)
    settings = settings.model_copy(update={"task_queue": task_queue})
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue) as harness,
        app_client(settings, workflow_env.client) as http,
    ):
        yield Office(harness, http)


async def test_resend_sends_a_new_confirmation_link(office: Office) -> None:
    inquiry_id, handle = await office.waiting_inquiry("resend@example.com")

    assert await office.act(inquiry_id, "resend") == ("ok", "Der Bestätigungslink wurde erneut gesendet.")

    messages = await office.harness.messages(inquiry_id)
    assert [m.template_key for m in messages] == ["inquiry.confirmation", "inquiry.confirmation"]
    assert office.harness.nonce_from(messages[0]) != office.harness.nonce_from(messages[1])
    assert (await handle.query(InquiryWorkflow.current)).state == InquiryState.WAITING_FOR_CONFIRMATION


async def test_cancel_ends_the_workflow_with_the_reason_and_a_second_cancel_is_refused(office: Office) -> None:
    inquiry_id, handle = await office.waiting_inquiry("cancel@example.com")

    empty = await office.act(inquiry_id, "cancel", reason="   ")
    done = await office.act(inquiry_id, "cancel", reason="Hat telefonisch abgesagt")
    result = await handle.result()
    again = await office.act(inquiry_id, "cancel", reason="nochmal")
    resend = await office.act(inquiry_id, "resend")

    assert empty == ("error", "Bitte geben Sie einen Grund an (höchstens 500 Zeichen).")
    assert done == ("ok", "Die Automatisierung wurde beendet.")
    assert result.state == InquiryState.CANCELLED and result.reason == "Hat telefonisch abgesagt"
    row = await office.harness.row(inquiry_id)
    assert row.status == "cancelled" and row.reason == "Hat telefonisch abgesagt"
    assert again == ("error", "Nicht möglich: Der Workflow dieser Anfrage ist bereits beendet.")
    assert resend == again
    page = await office.http.get(f"/dashboard/inquiries/{inquiry_id}")
    assert "Manuell beendet" in page.text and "Automatisierung beenden" not in page.text


async def test_the_workflows_refusal_is_shown(office: Office) -> None:
    inquiry_id, _ = await office.waiting_inquiry("refusal@example.com")

    kind, text = await office.act(inquiry_id, "not-duplicate")

    assert (kind, text) == ("error", "Nicht möglich: Die Anfrage wartet nicht auf eine Dublettenprüfung.")


async def test_not_a_duplicate_continues_to_completed(office: Office) -> None:
    harness = office.harness
    await factories.contact(
        harness.sessions, first_name="Nina", last_name="Neu", email="alt@example.com", zip_code="10117"
    )
    inquiry_id, handle = await office.waiting_inquiry("zwilling@example.com")
    await harness.confirm(handle, harness.nonce_from((await harness.messages(inquiry_id))[0]))
    await harness.wait_for_state(handle, InquiryState.ABORTED)
    page = await office.http.get(f"/dashboard/inquiries/{inquiry_id}")
    assert "Keine Dublette – fortsetzen" in page.text

    assert await office.act(inquiry_id, "not-duplicate") == ("ok", "Die Automatisierung wird fortgesetzt.")

    result = await handle.result()
    assert result.state == InquiryState.COMPLETED and result.contact_id is not None
    page = await office.http.get(f"/dashboard/inquiries/{inquiry_id}")
    assert "Angelegte Adresse" in page.text and "Keine Dublette: fortgesetzt" in page.text


async def test_actions_of_a_logged_in_agent_need_the_csrf_token(
    office: Office, workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    async with sessions.begin() as session:
        session.add(User(email="maria@office.example", name="Maria", password_hash=hash_password("pw"), role="admin"))
    inquiry_id, handle = await office.waiting_inquiry("browser@example.com")
    settings = settings.model_copy(update={"task_queue": office.harness.task_queue})
    async with app_client(settings, workflow_env.client, auth=None) as browser:
        token = await login(browser, "maria@office.example", "pw")
        forged = await browser.post(f"/dashboard/inquiries/{inquiry_id}/cancel", data={"reason": "fremde Seite"})
        assert forged.status_code == 403
        assert (await handle.query(InquiryWorkflow.current)).state == InquiryState.WAITING_FOR_CONFIRMATION
        response = await browser.post(
            f"/dashboard/inquiries/{inquiry_id}/cancel", data={"reason": "am Telefon", "csrf_token": token}
        )
        assert response.status_code == 303
    assert (await handle.result()).state == InquiryState.CANCELLED


async def test_an_unknown_inquiry_is_a_404(office: Office) -> None:
    response = await office.http.post("/dashboard/inquiries/999999/resend")
    assert response.status_code == 404
