"""Replies reach leads and time-slot requests too, through the real IMAP server and the real mailbox activity.

A lead is matched by its contact's address (lead reminders go to the agent, so a thread match is rare) or
by a reply to a reminder; a slot request by a reply to one of its mails, or by its contact while it waits.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.mailbox import MailboxActivities
from automations.triggers import event_data, get_trigger
from db.base import utcnow
from db.events import CATALOGUE, MailReplyReceived, TaskCreated
from db.models import (
    Activity,
    Contact,
    DomainEvent,
    InboundMail,
    Lead,
    Message,
    SalesPhase,
    SalesProcess,
    SlotRequest,
    Task,
    User,
)
from db.session import SessionFactory
from domain.passwords import hash_password
from messaging.imap_client import ImapConfig, append
from settings import Settings
from starter.events.automations import AutomationEventHandler
from starter.events.leads import LeadEventHandlers
from starter.events.routing import routing_table
from starter.intake.mail_service import MailIntakeService
from starter.intake.service import IntakeService
from starter.services.tasks import slot_request_of
from tests import factories
from tests.http import app_client, login
from tests.lead_harness import FakeLead, FakeLeadActivities, lead_worker, phases, wait_status
from workflows.lead import LeadWorkflow
from workflows.lead_models import LeadInput
from workflows.mailbox_models import MailboxPollRequest

pytestmark = pytest.mark.timeout(120)
PROSPECT = "klara@example.com"
REPLY_TEXT = "Guten Tag, ich melde mich wegen der Wohnung: Dienstag ab 17 Uhr passt mir gut."
PASSWORD = "reply-targets-pw"
DATA = Path(__file__).parent.parent / "data" / "mail"


def reply_mail(sender: str, *, in_reply_to: str | None = None, tag: str = "1") -> bytes:
    thread = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        f"From: Klara Bekannt <{sender}>\r\n"
        "To: anfragen@office.example\r\n"
        "Subject: Re: Ihre Anfrage\r\n"
        "Date: Tue, 01 Dec 2026 19:00:00 +0100\r\n"
        f"Message-ID: <reply-{tag}-{uuid.uuid4().hex}@example.org>\r\n"
        f"{thread}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"{REPLY_TEXT}\r\n\r\n"
        "Am 01.12.2026 um 10:00 schrieb Anna Agent <anna@office.example>:\r\n"
        "> Guten Tag,\r\n> wann passt es Ihnen?\r\n"
    ).encode()


async def poll(sessions: SessionFactory, settings: Settings, mailbox_id: int) -> dict[str, int]:
    """One round of the real mailbox activity: fetch, store raw, process, mark on the server."""
    intake = MailIntakeService(sessions, IntakeService(sessions, time_zone=settings.time_zone))
    activities = MailboxActivities(sessions, settings, intake)
    request = MailboxPollRequest(mailbox_id=mailbox_id, max_seconds=0.0, max_mails=50)
    result = await ActivityEnvironment().run(activities.poll_mailbox, request)
    assert result.error is None, result.error
    return result.kinds


async def make_lead(sessions: SessionFactory, office: dict[str, Any], contact: Contact, **fields: Any) -> Lead:
    async with sessions.begin() as session:
        process = SalesProcess(name=f"Vermietung {uuid.uuid4().hex[:6]}", reminders_enabled=True)
        session.add(process)
        await session.flush()
        phase = SalesPhase(process_id=process.id, position=0, name="Erstkontakt", duration_seconds=86_400)
        session.add(phase)
        await session.flush()
        lead = Lead(
            title="Familie Bekannt",
            contact_id=contact.id,
            property_id=office["active"].id,
            process_id=process.id,
            phase_id=phase.id,
            phase_entered_at=fields.pop("phase_entered_at", utcnow() - timedelta(days=10)),
            taker_user_id=fields.pop("taker_user_id", office["other"].id),
            **fields,
        )
        session.add(lead)
    return lead


async def make_slot_request(
    sessions: SessionFactory, office: dict[str, Any], contact: Contact, status: str = "waiting"
) -> tuple[SlotRequest, Message]:
    async with sessions.begin() as session:
        request = SlotRequest(
            contact_id=contact.id,
            property_id=office["active"].id,
            recipient_kind="user",
            recipient_user_id=office["other"].id,
            response_types=["email"],
            status=status,
            expires_at=utcnow() + timedelta(days=14),
            link_nonce=uuid.uuid4().hex,
            send_invitation=True,
        )
        session.add(request)
        await session.flush()
        invitation = Message(
            idempotency_key=f"slots:{request.id}:invitation",
            sender="anna@office.example",
            recipient=contact.email or "",
            subject="Ihre Terminvorschläge",
            body_text="Bitte schlagen Sie Termine vor.",
            status="sent",
            contact_id=contact.id,
        )
        session.add(invitation)
    return request, invitation


async def events(sessions: SessionFactory, kind: str) -> list[DomainEvent]:
    async with sessions() as session:
        return list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == kind).order_by(DomainEvent.id)))


async def test_a_reply_from_a_leads_contact_ends_the_overdue_episode(
    office: dict[str, Any],
    imap: ImapConfig,
    sessions: SessionFactory,
    settings: Settings,
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    contact = await factories.contact(sessions, email=PROSPECT)
    lead = await make_lead(sessions, office, contact)
    # The lead's workflow, overdue for days: its activities are mocked (its branching is under test here).
    fake = FakeLeadActivities({lead.id: FakeLead(lead.id, lead.phase_entered_at, phases(timedelta(days=1)))})
    handlers = LeadEventHandlers(task_queue, workflow_id=lambda lead_id: f"lead-{task_queue}-{lead_id}")
    async with lead_worker(workflow_env, task_queue, fake.all()):
        handle = await workflow_env.client.start_workflow(
            LeadWorkflow.run, LeadInput(lead_id=lead.id), id=f"lead-{task_queue}-{lead.id}", task_queue=task_queue
        )
        await wait_status(handle, lambda s: s.overdue and s.reminders_total >= 1)

        await append(imap, reply_mail(PROSPECT))  # a new mail, no thread headers: matched by its sender
        assert await poll(sessions, settings, office["mailbox"].id) == {"reply": 1}

        async with sessions() as session:
            [entry] = await session.scalars(select(Activity).where(Activity.contact_id == contact.id))
            [task] = await session.scalars(select(Task).where(Task.lead_id == lead.id))
        assert (entry.kind, entry.reason, entry.text) == ("antwort", "Antwort per E-Mail", REPLY_TEXT)
        assert entry.property_id == office["active"].id
        assert task.title == "Antwort von Klara Bekannt lesen"
        assert task.assignee_user_id == office["other"].id  # the lead taker, not the property manager
        [reply_event] = await events(sessions, "mail.reply_received")
        assert reply_event.payload["lead_ids"] == [lead.id] and reply_event.payload["slot_request_id"] is None

        # The reply's task reaches the workflow as every lead task does (task.created, routed to the lead).
        [task_event] = [e for e in await events(sessions, "task.created") if e.payload.get("lead_id") == lead.id]
        await handlers.task_created(workflow_env.client, task_event)
        status = await wait_status(handle, lambda s: not s.overdue)
        assert status.overdue_at is not None
        assert status.overdue_at == task.created_at + timedelta(days=1)  # one phase duration after the reply
        await handle.terminate("test done")


async def test_a_reply_to_a_lead_reminder_reaches_that_lead(
    office: dict[str, Any], imap: ImapConfig, sessions: SessionFactory, settings: Settings
) -> None:
    contact = await factories.contact(sessions, email=PROSPECT)
    lead = await make_lead(sessions, office, contact)
    async with sessions.begin() as session:
        reminder = Message(
            idempotency_key=f"lead:{lead.id}:episode:1:reminder:1",
            sender="immoflow@office.example",
            recipient="otto@office.example",
            subject="Lead überfällig",
            body_text="…",
            status="sent",
            lead_id=lead.id,
            user_id=office["other"].id,
        )
        session.add(reminder)
    # The agent forwarded the reminder to a colleague, who answers in its thread from another address.
    await append(imap, reply_mail("kollege@office.example", in_reply_to=f"<immoflow-{reminder.id}@office.example>"))
    assert await poll(sessions, settings, office["mailbox"].id) == {"reply": 1}
    async with sessions() as session:
        tasks = list(await session.scalars(select(Task).where(Task.lead_id == lead.id)))
    assert [t.assignee_user_id for t in tasks] == [office["other"].id]  # one task, not one per match
    [reply_event] = await events(sessions, "mail.reply_received")
    assert reply_event.payload["lead_ids"] == [lead.id]


async def test_a_closed_lead_is_not_a_target(
    office: dict[str, Any], imap: ImapConfig, sessions: SessionFactory, settings: Settings
) -> None:
    contact = await factories.contact(sessions, email=PROSPECT)
    await make_lead(sessions, office, contact, status="closed")
    await append(imap, reply_mail(PROSPECT))
    # Nothing open to answer: the mail is no reply but waits for the office among the unrecognised ones.
    assert await poll(sessions, settings, office["mailbox"].id) == {"unrecognised": 1}
    async with sessions() as session:
        assert list(await session.scalars(select(Task))) == []


async def test_a_reply_to_a_slot_invitation_is_recorded_on_the_request_with_a_task(
    office: dict[str, Any], imap: ImapConfig, sessions: SessionFactory, settings: Settings
) -> None:
    contact = await factories.contact(sessions, email=PROSPECT)
    # Answered already: a reply in the invitation's thread still belongs to it (the sender rule would not).
    request, invitation = await make_slot_request(sessions, office, contact, status="answered")
    await append(imap, reply_mail(PROSPECT, in_reply_to=f"<immoflow-{invitation.id}@office.example>"))
    assert await poll(sessions, settings, office["mailbox"].id) == {"reply": 1}

    async with sessions() as session:
        [mail] = await session.scalars(select(InboundMail))
        [task] = await session.scalars(select(Task))
    assert mail.slot_request_id == request.id and mail.related_message_id == invitation.id
    assert task.assignee_user_id == office["other"].id  # the request's recipient
    assert slot_request_of(task) == request.id  # the task inbox links it to the request
    assert task.body == REPLY_TEXT

    [event] = await events(sessions, "mail.reply_received")
    assert event.payload["slot_request_id"] == request.id
    async with sessions() as session:  # automations see the same reply
        facts = await get_trigger("mail.reply_received").facts(session, event_data(event))
    assert facts["to_slot_request"] is True and facts["to_lead"] is False and facts["to_inquiry"] is False
    assert (facts["sender"], facts["text"], facts["contact_id"]) == (PROSPECT, REPLY_TEXT, contact.id)

    async with sessions.begin() as session:
        await session.execute(
            update(User)
            .where(User.id == office["agent"].id)
            .values(password_hash=hash_password(PASSWORD), role="admin")
        )
    async with app_client(settings, auth=None) as http:
        await login(http, "anna@office.example", PASSWORD)
        page = await http.get(f"/slot-requests/{request.id}")
    assert page.status_code == 200
    assert "Antworten per E-Mail" in page.text and "Dienstag ab 17 Uhr passt mir gut" in page.text
    assert "wann passt es Ihnen" not in page.text  # the quoted history is not shown


async def test_a_mail_from_the_contact_of_a_waiting_slot_request_reaches_it(
    office: dict[str, Any], imap: ImapConfig, sessions: SessionFactory, settings: Settings
) -> None:
    contact = await factories.contact(sessions, email=PROSPECT)
    expired, _ = await make_slot_request(sessions, office, contact, status="expired")
    waiting, _ = await make_slot_request(sessions, office, contact, status="waiting")
    await append(imap, reply_mail(PROSPECT.upper()))  # addresses compare case-insensitively
    assert await poll(sessions, settings, office["mailbox"].id) == {"reply": 1}
    async with sessions() as session:
        [mail] = await session.scalars(select(InboundMail))
        tasks = list(await session.scalars(select(Task)))
    assert mail.slot_request_id == waiting.id != expired.id
    assert [slot_request_of(t) for t in tasks] == [waiting.id]


def test_the_reply_event_is_catalogued_and_routed_to_the_automations() -> None:
    table = routing_table()
    assert MailReplyReceived.KIND in CATALOGUE
    assert [type(handler) for handler in table[MailReplyReceived.KIND]] == [AutomationEventHandler]
    assert table[TaskCreated.KIND], "lead tasks (also a reply's) reach the lead workflows"


async def test_a_website_form_sent_in_a_lead_contacts_name_stays_an_inquiry(
    office: dict[str, Any], imap: ImapConfig, sessions: SessionFactory, settings: Settings
) -> None:
    contact = await factories.contact(sessions, email="paula.paessler@example.org")
    await make_lead(sessions, office, contact)
    form = (DATA / "website_form.eml").read_bytes()
    form = form.replace(b"From: Website <www-data@immoflow-makler.de>", b"From: Paula <paula.paessler@example.org>")
    form = form.replace(b"anfragen@immoflow.local", b"anfragen@office.example")
    await append(imap, form)
    assert await poll(sessions, settings, office["mailbox"].id) == {"inquiry": 1}
    assert await events(sessions, "mail.reply_received") == []
