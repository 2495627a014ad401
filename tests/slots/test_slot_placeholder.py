"""`{{ time_slot_link }}` in a mail template: the inquiry manager's exposé mail carries a time-slot link.

The mail activity makes the request (once per mail) with its `slot_request.created` event; the dispatcher's
handler starts the workflow, which sends no invitation of its own: the exposé already carried the link.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from db.models import DomainEvent, Message, MessageTemplate, SlotRequest
from db.session import SessionFactory
from domain.slot_routing import ResponseType
from messaging.inquiry_mail import InquiryMailComposer
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.events.slots import slot_request_created_handler
from tests import factories
from tests.slot_harness import SlotHarness, proposals
from workflows.inquiry_models import MailRequest
from workflows.slot_models import SlotState, slot_workflow_id

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]


async def _offer_slots_in_expose(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        template = (await session.scalars(select(MessageTemplate).where(MessageTemplate.key == "inquiry.expose"))).one()
        template.body += "\nSchlagen Sie uns Besichtigungstermine vor: {{ time_slot_link }}\n"


async def test_expose_mail_carries_a_working_time_slot_link(
    harness: SlotHarness, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    await _offer_slots_in_expose(harness.sessions)
    inquiry = await factories.inquiry(harness.sessions, email="nina@example.com")
    async with harness.sessions.begin() as session:
        row = await session.get(type(inquiry), inquiry.id)
        assert row is not None
        row.property_id, row.contact_id = harness.office.property_id, harness.office.prospect_id
    composer = InquiryMailComposer(harness.sessions, settings)
    key = f"inquiry:{inquiry.id}:expose"
    request = MailRequest(
        inquiry_id=inquiry.id, kind="expose", contact_id=harness.office.prospect_id, idempotency_key=key
    )
    message_id = await ActivityEnvironment().run(composer.compose, request)
    assert await ActivityEnvironment().run(composer.compose, request) == message_id  # a retried activity

    async with harness.sessions() as session:
        message = await session.get(Message, message_id)
        [slot_request] = list(await session.scalars(select(SlotRequest)))
        [event] = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "slot_request.created")))
    assert message is not None and "/slots/" in message.body_text
    assert (slot_request.origin_key, slot_request.inquiry_id, slot_request.send_invitation) == (key, inquiry.id, False)
    assert (slot_request.recipient_kind, slot_request.recipient_user_id) == ("user", harness.office.agent_id)
    assert slot_request.response_types == ["email", "task"]  # the settings' default for placeholder requests
    assert event.payload == {"slot_request_id": slot_request.id, "workflow_id": slot_workflow_id(slot_request.id)}

    # The mail activity dated the link by the wall clock; the shared test server's clock has run ahead of it.
    now = await workflow_env.get_current_time()
    async with harness.sessions.begin() as session:
        stored = await session.get(SlotRequest, slot_request.id)
        assert stored is not None
        stored.expires_at = now + timedelta(days=14)

    handler = slot_request_created_handler(harness.task_queue)
    await handler(workflow_env.client, event)
    await handler(workflow_env.client, event)  # a redelivered event is harmless
    handle = workflow_env.client.get_workflow_handle(slot_workflow_id(slot_request.id))
    harness.started.append(handle)
    await harness.wait_for(handle, SlotState.WAITING)
    assert [m.idempotency_key for m in await harness.messages(slot_request.id)] == []  # no invitation of its own

    await harness.submit(handle, harness.nonce_from(message.body_text), proposals(now, 2))
    snapshot = await harness.wait_until_routed(handle)
    assert [d.channel for d in snapshot.deliveries] == [ResponseType.EMAIL, ResponseType.TASK]
    assert smtp_sink.received[-1].rcpt_tos == ("anna@office.example",)


async def test_without_a_contact_the_placeholder_is_empty_and_no_request_is_made(
    harness: SlotHarness, settings: Settings
) -> None:
    async with harness.sessions.begin() as session:
        template = (
            await session.scalars(select(MessageTemplate).where(MessageTemplate.key == "inquiry.confirmation"))
        ).one()
        template.body += "\nTermine: [{{ time_slot_link }}]\n"
    inquiry = await factories.inquiry(harness.sessions)
    request = MailRequest(
        inquiry_id=inquiry.id,
        kind="confirmation",
        idempotency_key=f"inquiry:{inquiry.id}:confirmation",
        link_nonce="n" * 16,
        link_valid_until=inquiry.received_at,
    )
    message_id = await ActivityEnvironment().run(InquiryMailComposer(harness.sessions, settings).compose, request)
    async with harness.sessions() as session:
        message = await session.get(Message, message_id)
        assert list(await session.scalars(select(SlotRequest))) == []
    assert message is not None and "Termine: []" in message.body_text


def test_template_editor_previews_slot_mails_with_their_variables(settings: Settings) -> None:
    from messaging import default_templates
    from web.pages.template_preview import preview

    for template in (t for t in default_templates.defaults() if t.key.startswith("slots.")):
        shown = preview(template.key, template.subject, template.body, settings, None)  # type: ignore[arg-type]
        assert shown.ok and not shown.generic, (template.key, shown.error)
        assert "‹" not in shown.body  # no placeholder: every variable has demo data
    response = next(t for t in default_templates.defaults() if t.key == "slots.response")
    body = preview(response.key, response.subject, response.body, settings, None).body  # type: ignore[arg-type]
    assert "Nina Neu" in body and "Am liebsten nachmittags." in body and "SMS nicht möglich" in body
