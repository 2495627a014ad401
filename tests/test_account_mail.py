"""The set-password mail: outbox row + event in the admin's transaction, then dispatcher → workflow → SMTP."""

from __future__ import annotations

import os
import re

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.messages import MessageActivities, SmtpTransport
from db.base import utcnow
from db.models import DomainEvent, Message, User
from db.session import SessionFactory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.events.accounts import PASSWORD_LINK_EVENT, password_link_handler
from starter.events.dispatcher import Dispatcher
from starter.services import users as user_service
from starter.temporal.histories import HISTORIES_DIR, portable_json
from workflows.account_mail import AccountMailWorkflow


async def test_the_link_mail_is_delivered_once_over_smtp_even_if_the_event_comes_twice(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    smtp_sink: SmtpSink,
    task_queue: str,
) -> None:
    async with sessions.begin() as session:
        user = User(email="neu@office.example", name="Nora Neu")
        session.add(user)
        await session.flush()
        message = await user_service.issue_password_link(session, user.id, settings, utcnow())
        message_id = message.id
    suffix = task_queue  # workflow ids of this test only: the time-skipping server is per test anyway
    handler = password_link_handler(lambda: task_queue, workflow_id=lambda mid: f"account-mail-{mid}-{suffix}")
    dispatcher = Dispatcher(sessions, workflow_env.client, {PASSWORD_LINK_EVENT: [handler]})
    activities = MessageActivities(sessions, {"email": SmtpTransport(settings)})
    async with Worker(
        workflow_env.client,
        task_queue=task_queue,
        workflows=[AccountMailWorkflow],
        activities=[activities.deliver_message],
    ):
        assert await dispatcher.run_once() == 1
        # A redelivered event (the dispatcher died before marking it) finds the workflow and starts nothing.
        async with sessions.begin() as session:
            event = await session.scalar(select(DomainEvent).where(DomainEvent.kind == PASSWORD_LINK_EVENT))
            assert event is not None and event.dispatched_at is not None
            event.dispatched_at = None
        assert await dispatcher.run_once() == 1
        handle = workflow_env.client.get_workflow_handle(f"account-mail-{message_id}-{suffix}")
        status = await handle.result()
        if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
            (HISTORIES_DIR / "account-mail-sent.json").write_text(portable_json(await handle.fetch_history()))
    assert status == "sent"
    [mail] = smtp_sink.received
    assert mail.subject == "Ihr Zugang zu immoflow"
    assert re.search(r"http://testserver/set-password/\S+", mail.text)
    async with sessions() as session:
        row = await session.get(Message, message_id)
        assert row is not None and row.status == "sent"
