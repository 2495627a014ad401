"""The inquiry manager as a prospect and an office see it: HTTP intake, mails in a real SMTP sink, the
confirmation page in HTML, and /api/inquiries telling the truth at every step."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from httpx import AsyncClient
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.temporal.inquiries import inquiry_handle
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import CancelInput

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]
CONFIRM_PATH = re.compile(r"http://testserver(/confirm/\S+)")


@dataclass
class Office:
    http: AsyncClient
    env: WorkflowEnvironment
    sink: SmtpSink
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    async def post_inquiry(self, email: str, external_id: str) -> dict[str, object]:
        # One Temporal test server serves the whole session: a portal message ID used by another test
        # (or the other database backend) would find its workflow ID taken, by design.
        external_id = f"{external_id}-{self.run}"
        response = await self.http.post(
            "/api/inquiries",
            json={
                "source": "immoscout24",
                "external_id": external_id,
                "mailbox": "anfragen@office.example",
                "property_ref": "W-1001",
                "salutation": "Frau",
                "first_name": "Nina",
                "last_name": "Neu",
                "email": email,
                "message": "Ist die Wohnung noch frei?",
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, object] = response.json()
        return body

    async def inquiry(self, inquiry_id: object) -> dict[str, object]:
        response = await self.http.get(f"/api/inquiries/{inquiry_id}")
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


@pytest.fixture
async def office(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    smtp_sink: SmtpSink,
    task_queue: str,
) -> AsyncIterator[Office]:
    await factories.office(sessions)
    settings = settings.model_copy(update={"task_queue": task_queue})
    async with (
        running_harness(workflow_env.client, sessions, settings, task_queue),
        app_client(settings, workflow_env.client) as http,
    ):
        yield Office(http, workflow_env, smtp_sink)


async def test_unknown_prospect_confirms_on_the_page_and_gets_the_expose(office: Office) -> None:
    created = await office.post_inquiry("nina@example.com", "e2e-1")
    handle = inquiry_handle(office.env.client, str(created["workflow_id"]))
    async with asyncio.timeout(20):
        while not office.sink.received:  # noqa: ASYNC110  (mail arrives from another thread)
            await asyncio.sleep(0.05)
    [confirmation] = office.sink.received
    assert confirmation.rcpt_tos == ("nina@example.com",)
    path = CONFIRM_PATH.search(confirmation.text)
    assert path, confirmation.text
    page = await office.http.get(path.group(1))
    assert page.status_code == 200 and "Ihre Anfrage bestätigen" in page.text and 'value="Nina"' in page.text
    incomplete = await office.http.post(path.group(1), data={"first_name": "Nina", "last_name": "Neu"})
    assert incomplete.status_code == 422 and "PLZ" in incomplete.text

    done = await office.http.post(
        path.group(1), data={"first_name": "Nina", "last_name": "Neu", "zip_code": "10117", "city": "Berlin"}
    )
    assert done.status_code == 200 and "Vielen Dank" in done.text, done.text
    assert (await handle.result()).state == "completed"
    again = await office.http.post(
        path.group(1), data={"first_name": "Nina", "last_name": "Neu", "zip_code": "10117", "city": "Berlin"}
    )
    assert again.status_code == 409

    detail = await office.inquiry(created["id"])
    assert detail["status"] == "completed"
    subjects = [mail.subject for mail in office.sink.received]
    assert subjects == [
        "Ihre Anfrage zu Helle 3-Zimmer-Wohnung am Park – bitte kurz bestätigen",
        "Ihr Exposé: Helle 3-Zimmer-Wohnung am Park",
    ]


async def test_silent_prospect_gets_reminders_then_the_manager_is_told(office: Office) -> None:
    settings = await office.http.patch(
        "/api/settings/inquiry-manager",
        json={"followup_interval": "PT2S", "followup_attempts": 2, "final_notice": "email"},
    )
    assert settings.status_code == 200, settings.text
    assert settings.json()["followup_interval"] == "PT2S"
    created = await office.post_inquiry("still@example.com", "e2e-2")
    handle = inquiry_handle(office.env.client, str(created["workflow_id"]))
    await office.env.sleep(10)  # the test server skips these seconds
    assert (await handle.query(InquiryWorkflow.current)).state == "expired"
    detail = await office.inquiry(created["id"])
    assert detail["status"] == "expired" and "2 Erinnerung" in str(detail["reason"])
    recipients = [(mail.rcpt_tos[0], mail.subject.split(":")[0]) for mail in office.sink.received]
    assert recipients == [
        ("still@example.com", "Ihre Anfrage zu Helle 3-Zimmer-Wohnung am Park – bitte kurz bestätigen"),
        ("still@example.com", "Erinnerung 1"),
        ("still@example.com", "Erinnerung 2"),
        ("anna@office.example", "Keine Reaktion auf Anfrage zu W-1001"),
    ]


async def test_the_same_portal_inquiry_twice_sends_one_mail(office: Office) -> None:
    first = await office.post_inquiry("klara@example.com", "e2e-3")
    again = await office.http.post(
        "/api/inquiries",
        json={
            "source": "immoscout24",
            "external_id": f"e2e-3-{office.run}",
            "mailbox": "anfragen@office.example",
            "property_ref": "W-1001",
            "last_name": "Neu",
            "email": "klara@example.com",
        },
    )
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    handle = inquiry_handle(office.env.client, str(first["workflow_id"]))
    # Real seconds, not skipped ones: on a loaded machine the confirmation step can take longer than one
    # second of the test server's clock (CI once saw "processing" after env.sleep(1)).
    async with asyncio.timeout(20):
        while (await handle.query(InquiryWorkflow.current)).state != "waiting_for_confirmation":  # noqa: ASYNC110  (a query, no event to wait on)
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a second mail, were one sent, would be in the sink by now
    assert len(office.sink.received) == 1
    # End it cleanly: a workflow left sleeping after its worker stops would hold the shared test server's
    # clock (it does not skip time while a timer's workflow task waits for a worker that is gone).
    await handle.execute_update(InquiryWorkflow.cancel, CancelInput(reason="Test beendet"))
