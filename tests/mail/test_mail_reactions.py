"""Replies, bounces and auto-replies to the inquiry manager's mails, with the real workflow (time-skipping)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import Activity, DomainEvent, InboundMail, Mailbox, Message, Task
from db.session import SessionFactory
from settings import Settings
from starter.events.mail import handle_reaction
from starter.intake.mail_service import REACTION_EVENT, MailIntakeService
from starter.intake.service import IntakeService
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry_models import InquiryState

pytestmark = pytest.mark.timeout(120)
DATA = Path(__file__).parent.parent / "data" / "mail"
PROSPECT = "neu@example.com"


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as harness:
        await harness.configure(followup_interval="P2D", followup_attempts=2, final_notice="none")
        yield harness


def mail(name: str, **values: str) -> bytes:
    text = (DATA / name).read_text("utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.encode("utf-8")


async def waiting_inquiry(harness: InquiryHarness) -> tuple[Any, Any, Message]:
    inquiry = await factories.inquiry(harness.sessions, email=PROSPECT)
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    [confirmation] = await harness.messages(inquiry.id)
    return inquiry, handle, confirmation


async def receive(harness: InquiryHarness, raw: bytes, uid: int = 1) -> str:
    """The mailbox activity's two steps for one mail, then the dispatcher's delivery of what it recorded."""
    sessions = harness.sessions
    service = MailIntakeService(sessions, IntakeService(sessions))
    async with sessions() as session:
        mailbox_id = (await session.scalars(select(Mailbox.id))).one()
    stored = await service.store(mailbox_id, 1, uid, raw)
    kind = await service.process(stored.inbound_id)
    async with sessions() as session:
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == REACTION_EVENT)))
    for event in events:
        await handle_reaction(harness.client, event)
    return kind


def our_id(message: Message) -> str:
    return f"<immoflow-{message.id}@office.example>"


async def test_a_reply_stops_the_reminders_with_a_journal_entry_and_a_task(harness: InquiryHarness) -> None:
    inquiry, handle, confirmation = await waiting_inquiry(harness)
    kind = await receive(
        harness, mail("reply_quoted.eml", FROM=f"Nina Neu <{PROSPECT}>", MESSAGE_ID=our_id(confirmation))
    )
    assert kind == "reply"
    result = await handle.result()
    await harness.record(handle, "stopped-reply")
    assert result.state == InquiryState.ABORTED
    assert result.reminders_sent == 0
    assert "Antwort per E-Mail" in (result.reason or "")
    assert [m.id for m in await harness.messages(inquiry.id)] == [confirmation.id]  # no reminder went out
    async with harness.sessions() as session:
        [entry] = await session.scalars(select(Activity).where(Activity.inquiry_id == inquiry.id))
        [task] = await session.scalars(select(Task).where(Task.inquiry_id == inquiry.id))
    assert (entry.kind, entry.reason) == ("antwort", "Antwort per E-Mail")
    assert entry.text == "Vielen Dank, ich habe kein Interesse mehr, die Wohnung ist vergeben."  # quote stripped
    assert task.title == "Antwort von Nina Neu lesen"
    assert task.assignee_user_id is not None
    assert "mail-reply" in await harness.timeline(inquiry.id)
    async with app_client(harness.settings) as http:  # the preview shows it, with the reply's text
        preview = (await http.get(f"/dashboard/inquiries/{inquiry.id}")).text
    assert "Antwort per E-Mail" in preview and "ich habe kein Interesse mehr" in preview


async def test_a_new_mail_from_the_prospect_without_thread_headers_is_a_reply(harness: InquiryHarness) -> None:
    _inquiry, handle, _ = await waiting_inquiry(harness)
    raw = mail("reply_quoted.eml", FROM=PROSPECT, MESSAGE_ID="").replace(b"In-Reply-To: \r\n", b"")
    raw = raw.replace(b"References: \r\n", b"")
    assert await receive(harness, raw) == "reply"
    assert (await handle.result()).state == InquiryState.ABORTED


async def test_a_bounce_marks_the_message_and_stops_the_reminders(harness: InquiryHarness) -> None:
    _inquiry, handle, confirmation = await waiting_inquiry(harness)
    kind = await receive(harness, mail("bounce_dsn.eml", RECIPIENT=PROSPECT, MESSAGE_ID=our_id(confirmation)))
    assert kind == "bounce"
    result = await handle.result()
    assert result.state == InquiryState.ABORTED
    assert "unzustellbar" in (result.reason or "").lower()
    async with harness.sessions() as session:
        message = await session.get(Message, confirmation.id)
    assert message is not None and message.status == "bounced"
    assert "5.1.1" in (message.error or "") and PROSPECT in (message.error or "")


async def test_an_auto_reply_is_recorded_but_the_reminders_go_on(harness: InquiryHarness) -> None:
    inquiry, handle, confirmation = await waiting_inquiry(harness)
    kind = await receive(harness, mail("auto_reply.eml", FROM=PROSPECT, MESSAGE_ID=our_id(confirmation)))
    assert kind == "auto_reply"
    result = await handle.result()
    assert result.state == InquiryState.EXPIRED
    assert result.reminders_sent == 2
    async with harness.sessions() as session:
        row = (await session.scalars(select(InboundMail))).one()
        entries = list(await session.scalars(select(Activity).where(Activity.inquiry_id == inquiry.id)))
    assert (row.kind, row.inquiry_id, row.related_message_id) == ("auto_reply", inquiry.id, confirmation.id)
    assert entries == []


async def test_the_same_reply_twice_is_one_reaction(harness: InquiryHarness) -> None:
    inquiry, handle, confirmation = await waiting_inquiry(harness)
    raw = mail("reply_quoted.eml", FROM=PROSPECT, MESSAGE_ID=our_id(confirmation))
    assert await receive(harness, raw, uid=1) == "reply"
    assert await receive(harness, raw, uid=2) == "reply"  # refetched under a new UID: found, not repeated
    await handle.result()
    async with harness.sessions() as session:
        entries = list(await session.scalars(select(Activity).where(Activity.inquiry_id == inquiry.id)))
        tasks = list(await session.scalars(select(Task).where(Task.inquiry_id == inquiry.id)))
    assert (len(entries), len(tasks)) == (1, 1)


async def test_a_machine_made_portal_mail_is_still_an_inquiry(harness: InquiryHarness) -> None:
    raw = (DATA / "immoscout24_qp_utf8.eml").read_bytes()
    raw = raw.replace(b"MIME-Version: 1.0", b"Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\nMIME-Version: 1.0")
    assert await receive(harness, raw) == "inquiry"


async def test_an_unrelated_auto_reply_is_recorded_not_queued(harness: InquiryHarness) -> None:
    raw = mail("auto_reply.eml", FROM="fremd@example.net", MESSAGE_ID="<someone-else@example.net>")
    assert await receive(harness, raw) == "auto_reply"
    async with harness.sessions() as session:
        row = (await session.scalars(select(InboundMail))).one()
    assert (row.kind, row.status, row.inquiry_id) == ("auto_reply", "processed", None)
