"""Names and messages carrying SQL, HTML and mail-header injection, end to end: JSON intake → workflow with the
real activities → SMTP sink, and the confirm form back. Stored as sent (line breaks in one-line fields folded
by the intake), shown escaped in HTML, and no mail ever gets a header or a recipient the prospect wrote."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.models import Contact, Inquiry
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import ReceivedMail, SmtpSink
from starter.temporal.inquiries import inquiry_handle
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import LINK, InquiryHarness, running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import InquiryState

pytestmark = pytest.mark.timeout(120)

SQL = "Robert'); DROP TABLE contacts;--"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
HEADER = "Eve\r\nBcc: victim@example.com\r\nSubject: forged"
MESSAGE = f"{SQL}\n{HTML}\r\nBcc: victim@example.com\r\n\r\nX-Injected: yes"


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as value:
        yield value


def assert_clean_headers(mail: ReceivedMail, recipient: str) -> None:
    message: EmailMessage = mail.message
    assert list(mail.rcpt_tos) == [recipient]
    assert [address for _, address in getaddresses(message.get_all("To", []))] == [recipient]
    for forbidden in ("Bcc", "Cc", "X-Injected"):
        assert message[forbidden] is None, f"{forbidden} header injected"
    assert len(message.get_all("Subject", [])) == 1 and message["Subject"] != "forged"
    for name, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), f"line break in {name}"


async def test_injection_is_stored_verbatim_shown_escaped_and_never_a_header(
    harness: InquiryHarness, settings: Settings, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    payload = {
        "source": "immoscout24",
        # Unique per run: one Temporal test server serves the whole session and IDs are business keys.
        "external_id": f"inj-{uuid.uuid4().hex[:8]}",
        "mailbox": "anfragen@office.example",
        "property_ref": "W-1001",
        "salutation": "Frau",
        "first_name": HEADER,
        "last_name": f"{SQL} {HTML}",
        "email": "eve@example.org",
        "zip_code": "10117",
        "city": HTML,
        "message": MESSAGE,
    }
    async with app_client(settings.model_copy(update={"task_queue": harness.task_queue}), workflow_env.client) as http:
        response = await http.post("/api/inquiries", json=payload)
        assert response.status_code == 201, response.text
        inquiry_id = response.json()["id"]
        handle = inquiry_handle(harness.client, response.json()["workflow_id"])
        await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)

        # Stored: the message byte for byte; one-line fields with their line breaks folded to spaces.
        async with harness.sessions() as session:
            row = await session.scalar(select(Inquiry).where(Inquiry.id == inquiry_id))
        assert row is not None
        assert row.message is not None and SQL in row.message and HTML in row.message
        assert row.prospect["last_name"] == f"{SQL} {HTML}"
        assert row.prospect["first_name"] == "Eve Bcc: victim@example.com Subject: forged"
        detail = await http.get(f"/api/inquiries/{inquiry_id}")  # JSON: verbatim, escaping is the reader's job
        assert json.dumps(f"{SQL} {HTML}")[1:-1] in detail.text

        [confirmation] = smtp_sink.received
        assert_clean_headers(confirmation, "eve@example.org")
        assert SQL in confirmation.text  # plain text carries the name as written

        # The confirm page shows the prefilled values escaped, and the prospect answers with more of it.
        token = LINK.search(confirmation.text)
        assert token
        page = await http.get(f"/confirm/{token.group(1)}")
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
        form = {"salutation": "Frau", "first_name": HEADER, "last_name": f"{SQL} {HTML}", "zip_code": "10117"}
        done = await http.post(f"/confirm/{token.group(1)}", data={**form, "city": HTML})
        assert done.status_code == 200, done.text[:300]
        assert "<script>alert" not in done.text

    assert (await handle.result()).state == InquiryState.COMPLETED
    async with harness.sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.email == "eve@example.org"))
        contacts = await session.scalar(select(func.count()).select_from(Contact))
    assert contact is not None and contacts  # the table is still there
    assert contact.last_name == f"{SQL} {HTML}" and contact.city == HTML  # verbatim
    assert contact.first_name is not None and "Bcc: victim@example.com" in contact.first_name

    expose = smtp_sink.received[-1]
    assert expose.message["X-Immoflow-Key"].endswith(":expose")
    assert_clean_headers(expose, "eve@example.org")
    html = expose.message.get_body(preferencelist=("html",))
    assert html is not None
    content = str(html.get_content())
    assert "<script>" not in content and "onerror=alert" not in content.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;" in content
    assert (await handle.query(InquiryWorkflow.current)).contact_id == contact.id
