"""TimeSlotRequestWorkflow end to end on the time-skipping server: real activities, database, SMTP and SMS sink."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.messages import SmtpTransport
from db.models import (
    Appointment,
    Contact,
    DomainEvent,
    Lead,
    Message,
    SalesPhase,
    SalesProcess,
    SlotProposal,
    Task,
    User,
)
from db.session import SessionFactory
from domain.slot_routing import ResponseType, Target
from messaging.sms import read_sms
from messaging.transport import PermanentDeliveryError, Transport
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from tests.slot_harness import SlotHarness, proposals, running_slot_harness
from workflows.slot_models import ChooseSlot, SlotState
from workflows.slot_request import TimeSlotRequestWorkflow

pytestmark = pytest.mark.timeout(120)


def _rejection(exc: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> str | None:
    cause = exc.value.cause
    return cause.type if isinstance(cause, ApplicationError) else None


async def test_answer_by_email_task_and_sms_reaches_the_user(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink, settings: Settings
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now, response_types=["email", "task", "sms"])
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    invitation = smtp_sink.received[0]
    assert invitation.rcpt_tos == ("nina@example.com",)
    assert "Anna Agent" in str(invitation.message["From"]) and "Besichtigung" in invitation.subject
    nonce = harness.nonce_from(invitation.text)

    await harness.submit(handle, nonce, proposals(now), comment="Bitte <b>nachmittags</b>")
    snapshot = await harness.wait_until_routed(handle)

    assert [(d.channel, d.target) for d in snapshot.deliveries] == [
        (ResponseType.EMAIL, Target.USER),
        (ResponseType.TASK, Target.USER),
        (ResponseType.SMS, Target.USER),
    ]
    messages = await harness.messages(request.id)
    assert [(m.channel, m.idempotency_key) for m in messages] == [
        ("email", f"slots:{request.id}:invitation"),
        ("email", f"slots:{request.id}:response:email"),
        ("sms", f"slots:{request.id}:response:sms"),
    ]
    response, sms = messages[1], messages[2]
    assert "anna@office.example" in response.recipient and response.reply_to == "nina@example.com"
    assert "Bitte <b>nachmittags</b>" in response.body_text  # plain text: shown as typed, never as markup
    assert sms.recipient == "+49 151 1234567" and len(sms.body_text) <= 160
    assert (sms.cost_cents, sms.billing_account, sms.user_id) == (9, "KST-ANNA", harness.office.agent_id)
    assert [r["message_id"] for r in read_sms(settings.data_dir / "sms")] == [sms.id]
    assert len(smtp_sink.received) == 2

    async with harness.sessions() as session:
        task = (
            await session.scalars(select(Task).where(Task.idempotency_key == f"slots:{request.id}:response:task"))
        ).one()
        stored = list(await session.scalars(select(SlotProposal).where(SlotProposal.request_id == request.id)))
    assert task.assignee_user_id == harness.office.agent_id and "Nina Neu" in task.title
    assert [p.position for p in stored] == [1, 2, 3]
    row = await harness.row(request.id)
    assert row.status == "answered" and row.comment == "Bitte <b>nachmittags</b>"
    assert [d["channel"] for d in row.deliveries] == ["email", "task", "sms"]
    assert (await handle.result()).state == SlotState.ANSWERED  # nobody chose before the last slot began
    await harness.record(handle, "answered-email-task-sms")


async def test_seed_example_email_and_impossible_sms_sends_one_email(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now, recipient_user_id=harness.office.quiet_id, response_types=["email", "sms"])
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), proposals(now, 1))
    snapshot = await harness.wait_until_routed(handle)

    assert [(d.channel, d.replaces) for d in snapshot.deliveries] == [(ResponseType.EMAIL, [ResponseType.SMS])]
    messages = await harness.messages(request.id)
    assert [m.channel for m in messages] == ["email", "email"]  # the invitation and ONE answer
    assert "SMS nicht möglich" in messages[1].body_text
    assert "otto@office.example" in messages[1].recipient
    await handle.result()
    await harness.record(handle, "one-email-instead-of-sms")


async def test_contact_person_without_user_is_mailed_at_their_own_address(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(
        now, recipient="contact_person", recipient_user_id=None, response_types=["task", "sms"]
    )
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), proposals(now, 2))
    snapshot = await harness.wait_until_routed(handle)

    assert [(d.channel, d.target, d.contact_id) for d in snapshot.deliveries] == [
        (ResponseType.EMAIL, Target.CONTACT, harness.office.person_id)
    ]
    assert smtp_sink.received[-1].rcpt_tos == ("paul.partner@example.com",)
    async with harness.sessions() as session:
        assert list(await session.scalars(select(Task))) == []


async def test_contact_person_with_a_user_gets_task_and_sms_as_that_user(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    async with harness.sessions.begin() as session:
        person = await session.get(Contact, harness.office.person_id)
        assert person is not None
        person.user_id = harness.office.agent_id
    now = await workflow_env.get_current_time()
    request = await harness.create(
        now, recipient="contact_person", recipient_user_id=None, response_types=["task", "sms"]
    )
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), proposals(now, 2))
    snapshot = await harness.wait_until_routed(handle)
    assert [(d.channel, d.user_id) for d in snapshot.deliveries] == [
        (ResponseType.TASK, harness.office.agent_id),
        (ResponseType.SMS, harness.office.agent_id),
    ]
    assert len(smtp_sink.received) == 1  # the invitation only: no email was chosen, none was needed


async def test_link_expires_without_answer(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now, expires_at=now + timedelta(days=5))
    handle = await harness.start(request)
    result = await handle.result()  # skips the five days
    assert result.state == SlotState.EXPIRED
    await harness.record(handle, "expired")
    row = await harness.row(request.id)
    assert row.status == "expired" and row.reason
    assert len(smtp_sink.received) == 1


async def test_second_submission_forged_nonce_and_bad_slots_are_refused(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now)
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    nonce = harness.nonce_from(smtp_sink.received[0].text)

    with pytest.raises(WorkflowUpdateFailedError) as forged:
        await harness.submit(handle, "not-the-nonce", proposals(now))
    assert _rejection(forged) == "LinkInvalid"
    past = proposals(now - timedelta(days=10), 1)
    with pytest.raises(WorkflowUpdateFailedError) as invalid:
        await harness.submit(handle, nonce, past)
    assert _rejection(invalid) == "InvalidSlots"

    await harness.submit(handle, nonce, proposals(now))
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await harness.submit(handle, nonce, proposals(now, 2))
    assert _rejection(again) == "LinkUsed"
    await harness.wait_until_routed(handle)
    assert len(await harness.messages(request.id)) == 2  # invitation + one answer, nothing for the refusals


async def test_choosing_a_slot_confirms_it_with_an_ics_and_records_the_appointment(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink, settings: Settings
) -> None:
    now = await workflow_env.get_current_time()
    async with harness.sessions.begin() as session:  # the prospect's open lead on this property
        process = SalesProcess(name="Vermietung")
        session.add(process)
        await session.flush()
        phase = SalesPhase(process_id=process.id, position=0, name="Besichtigung", duration_seconds=86400)
        session.add(phase)
        await session.flush()
        lead = Lead(
            title="Nina sucht",
            contact_id=harness.office.prospect_id,
            property_id=harness.office.property_id,
            process_id=process.id,
            phase_id=phase.id,
            phase_entered_at=now,
            taker_user_id=harness.office.agent_id,
        )
        session.add(lead)
    request = await harness.create(now)
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    slots = proposals(now, 3)
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await handle.execute_update(TimeSlotRequestWorkflow.choose, ChooseSlot(position=1))
    assert _rejection(early) == "NotChoosable"
    await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), slots)
    await harness.wait_until_routed(handle)

    with pytest.raises(WorkflowUpdateFailedError) as missing:
        await handle.execute_update(TimeSlotRequestWorkflow.choose, ChooseSlot(position=4))
    assert _rejection(missing) == "InvalidSlot"
    snapshot = await handle.execute_update(TimeSlotRequestWorkflow.choose, ChooseSlot(position=2))
    assert snapshot.state == SlotState.SCHEDULED and snapshot.appointment_id is not None
    # Scheduled is the end: the workflow has finished (or refuses a second choice while it finishes).
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await handle.execute_update(TimeSlotRequestWorkflow.choose, ChooseSlot(position=1))
    assert (await handle.result()).state == SlotState.SCHEDULED

    async with harness.sessions() as session:
        appointment = await session.get(Appointment, snapshot.appointment_id)
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "appointment.created")))
    assert appointment is not None
    assert (appointment.starts_at, appointment.ends_at) == (slots[1].starts_at, slots[1].ends_at)
    assert (appointment.kind, appointment.contact_id, appointment.user_id) == (
        "viewing",
        harness.office.prospect_id,
        harness.office.agent_id,
    )
    assert [e.payload["appointment_id"] for e in events] == [appointment.id]
    assert appointment.lead_id == lead.id == events[0].payload["lead_id"]  # the lead's reminders rest (seed 004)
    assert events[0].payload["slot_request_id"] == request.id

    confirmation = smtp_sink.received[-1]
    assert confirmation.rcpt_tos == ("nina@example.com",) and "Terminbestätigung" in confirmation.subject
    [ics] = [part for part in confirmation.message.iter_attachments() if part.get_content_type() == "text/calendar"]
    calendar = ics.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"DTSTART:{slots[1].starts_at:%Y%m%dT%H%M%SZ}" in calendar
    assert all(len(line.encode()) <= 75 for line in calendar.split("\r\n"))  # folded (RFC 5545 3.1)
    unfolded = calendar.replace("\r\n ", "")
    assert "BEGIN:VEVENT" in unfolded and "mailto:nina@example.com" in unfolded
    assert (settings.data_dir / "ics" / f"slots-{request.id}.ics").read_bytes().decode() == calendar
    row = await harness.row(request.id)
    assert (row.status, row.chosen_position, row.appointment_id) == ("scheduled", 2, appointment.id)
    await harness.record(handle, "scheduled")


async def test_choice_window_closes_when_the_last_slot_begins(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now)
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), proposals(now, 2))
    result = await handle.result()  # skips to the start of the last slot
    assert result.state == SlotState.ANSWERED and result.appointment_id is None


class RefusingSms:
    """A gateway that refuses every SMS for good (e.g. an invalid number)."""

    async def send(self, message: Message) -> str:
        raise PermanentDeliveryError("SMS gateway answered 400: invalid number")


async def test_refused_sms_falls_back_to_one_email(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    smtp_sink: SmtpSink,
) -> None:
    transports: dict[str, Transport] = {"email": SmtpTransport(settings), "sms": RefusingSms()}
    async with running_slot_harness(workflow_env, sessions, settings, task_queue, transports=transports) as harness:
        now = await workflow_env.get_current_time()
        request = await harness.create(now, response_types=["task", "sms"])
        handle = await harness.start(request)
        await harness.wait_for(handle, SlotState.WAITING)
        await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), proposals(now))
        snapshot = await harness.wait_until_routed(handle)
        await handle.result()
        await harness.record(handle, "sms-refused-falls-back-to-email")
    assert [(d.channel, d.replaces) for d in snapshot.deliveries] == [
        (ResponseType.TASK, []),
        (ResponseType.EMAIL, [ResponseType.SMS]),
    ]
    assert snapshot.reason and "invalid number" in snapshot.reason
    messages = await harness.messages(request.id)
    assert [(m.channel, m.status) for m in messages] == [("email", "sent"), ("sms", "failed"), ("email", "sent")]


async def test_inactive_recipient_is_answered_through_the_office(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, smtp_sink: SmtpSink
) -> None:
    now = await workflow_env.get_current_time()
    request = await harness.create(now, recipient_user_id=harness.office.quiet_id, response_types=["task"])
    async with harness.sessions.begin() as session:
        quiet = await session.get(User, harness.office.quiet_id)
        assert quiet is not None
        quiet.is_active = False  # left the office after the link went out
    handle = await harness.start(request)
    await harness.wait_for(handle, SlotState.WAITING)
    await harness.submit(handle, harness.nonce_from(smtp_sink.received[0].text), proposals(now))
    snapshot = await harness.wait_until_routed(handle)
    assert [(d.channel, d.target) for d in snapshot.deliveries] == [(ResponseType.EMAIL, Target.OFFICE)]
    assert smtp_sink.received[-1].rcpt_tos == ("anna@office.example",)  # the property's manager
