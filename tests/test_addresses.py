"""E-mail addresses: IDN domains go out in ASCII, what SMTP cannot take fails for good (never retried)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.messages import build_email
from db.models import Message
from db.session import SessionFactory
from messaging.addresses import mailbox, smtp_address
from messaging.transport import PermanentDeliveryError
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.intake.payload import normalise_email
from tests import factories
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry_models import InquiryState

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        yield harness


async def test_umlaut_domain_gets_its_confirmation_in_ascii(harness: InquiryHarness, smtp_sink: SmtpSink) -> None:
    inquiry = await factories.inquiry(harness.sessions, email=normalise_email("Eva@Müller.de"))
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ("eva@xn--mller-kva.de",)
    assert "eva@xn--mller-kva.de" in str(mail.message["To"])


async def test_an_address_smtp_cannot_take_fails_the_inquiry_with_the_reason(
    harness: InquiryHarness, smtp_sink: SmtpSink
) -> None:
    # A CRM contact or an older intake could hold it; retrying would never help.
    inquiry = await factories.inquiry(harness.sessions, email="jörg@example.com")
    result = await (await harness.start(inquiry)).result()
    assert result.state == InquiryState.FAILED
    assert "SMTPUTF8" in ((await harness.row(inquiry.id)).reason or "")
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    ("given", "sent"),
    [("eva@müller.de", "eva@xn--mller-kva.de"), ("x@xn--mller-kva.de", "x@xn--mller-kva.de"), ("a@b.de", "a@b.de")],
)
def test_smtp_address_is_ascii(given: str, sent: str) -> None:
    assert smtp_address(given) == sent
    assert mailbox("Eva Ähnlich", given).endswith(f"<{sent}>")


@pytest.mark.parametrize("address", ["jörg@example.com", "no-at-sign", "a@b@c.de", "a@-x.de"])
def test_mailbox_refuses_for_good(address: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        mailbox("X", address)
    assert refused.value.non_retryable and refused.value.type == "InvalidAddress"


def test_a_message_composed_before_the_fix_is_sent_in_ascii(tmp_path: Path) -> None:
    row = Message(
        id=1,
        channel="email",
        idempotency_key="k",
        sender="Büro <buero@office.example>",
        recipient="Eva <eva@müller.de>",
        subject="Hallo",
        body_text="Text",
        attachments=[],
    )
    assert "eva@xn--mller-kva.de" in str(build_email(row, tmp_path)["To"])
    row.recipient = "Jörg <jörg@example.com>"
    with pytest.raises(PermanentDeliveryError):
        build_email(row, tmp_path)


@pytest.mark.parametrize("address", ["eva@müller.de", "ANFRAGEN@immoflow.local", "o'connor@example.ie"])
def test_intake_normalises_to_one_form(address: str) -> None:
    assert normalise_email(address) == address.lower()


@pytest.mark.parametrize("address", ["jörg@example.com", "eva@müller", "a@localhost", "x@example.invalid"])
def test_intake_refuses_what_cannot_be_delivered(address: str) -> None:
    with pytest.raises(ValueError, match="not"):
        normalise_email(address)
