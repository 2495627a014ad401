"""MailboxWorkflow with the real activity, a real IMAP server and the time-skipping Temporal server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import Inquiry, Mailbox
from db.session import SessionFactory
from messaging.imap_client import ImapConfig, append
from settings import Settings
from starter.temporal.histories import HISTORIES_DIR, portable_json
from starter.temporal.mailboxes import ensure_mailbox_workflow
from tests.imap_server import PASSWORD
from worker import WORKFLOWS, build_activities
from workflows.mailbox import MailboxWorkflow, workflow_id_for
from workflows.mailbox_models import MailboxInput

pytestmark = pytest.mark.timeout(120)
DATA = Path(__file__).parent.parent / "data" / "mail"


async def inquiry_count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Inquiry)) or 0)


async def test_the_watcher_turns_new_mail_into_inquiries_and_ends_when_disabled(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    office: dict[str, Any],
    imap: ImapConfig,
) -> None:
    mailbox_id = office["mailbox"].id
    client = workflow_env.client
    async with Worker(
        client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=build_activities(settings, sessions)
    ):
        handle = await client.start_workflow(
            MailboxWorkflow.run,
            MailboxInput(mailbox_id=mailbox_id, window_seconds=1.0),
            id=workflow_id_for(mailbox_id),
            task_queue=task_queue,
        )
        await ensure_mailbox_workflow(client, mailbox_id, task_queue)  # running already: the same one
        await append(imap, (DATA / "immoscout24_qp_utf8.eml").read_bytes())
        await append(imap, (DATA / "website_form.eml").read_bytes())
        async with asyncio.timeout(60):
            while await inquiry_count(sessions) < 2:  # noqa: ASYNC110 - the worker's progress, not an event of ours
                await asyncio.sleep(0.1)
            while (await handle.query(MailboxWorkflow.stats)).inquiries < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        async with sessions.begin() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            mailbox.enabled = False
        stats = await handle.result()
    assert (stats.fetched, stats.inquiries, stats.backlog) == (2, 2, 0)
    assert stats.last_uid > 0 and stats.last_contact_at is not None
    history = await handle.fetch_history()
    payloads = portable_json(history)
    assert PASSWORD not in payloads  # not in an input, a result or a failure of the history
    assert "erika.mustermann" not in payloads  # nor any mail's content: IDs and counters only
    description = await handle.describe()
    assert description.status is not None
    if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
        (HISTORIES_DIR / "mailbox-watch.json").write_text(payloads)


async def test_a_refused_login_backs_off_shows_the_error_and_recovers(
    workflow_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    task_queue: str,
    office: dict[str, Any],
    imap: ImapConfig,
) -> None:
    from messaging.mailbox_secrets import encrypt_password

    mailbox_id = office["mailbox"].id
    async with sessions.begin() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        mailbox.imap_password_encrypted = encrypt_password(settings, "falsch")
    client = workflow_env.client
    async with Worker(
        client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=build_activities(settings, sessions)
    ):
        handle = await client.start_workflow(
            MailboxWorkflow.run,
            MailboxInput(mailbox_id=mailbox_id, window_seconds=1.0),
            id=workflow_id_for(mailbox_id),
            task_queue=task_queue,
        )
        async with asyncio.timeout(60):
            while (await handle.query(MailboxWorkflow.stats)).failures < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        stats = await handle.query(MailboxWorkflow.stats)
        assert stats.last_error is not None and "abgelehnt" in stats.last_error
        assert "falsch" not in stats.last_error and PASSWORD not in stats.last_error
        async with sessions.begin() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            mailbox.imap_password_encrypted = encrypt_password(settings, PASSWORD)
        await append(imap, (DATA / "website_form.eml").read_bytes())
        async with asyncio.timeout(60):
            while await inquiry_count(sessions) < 1:  # the worker's progress
                # Skips the backoff on the test server's clock. In small steps: while a poll runs, the test
                # server does not skip, and a long sleep would wait its whole length in real time.
                await workflow_env.sleep(1)
                await asyncio.sleep(0.2)
        async with sessions.begin() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            mailbox.enabled = False
        stats = await handle.result()
    assert (stats.inquiries, stats.failures) == (1, 0)
    assert stats.last_error_at is not None  # the last error stays visible, with its time
    history = portable_json(await handle.fetch_history())
    assert "falsch" not in history and PASSWORD not in history
    if os.environ.get("IMMOFLOW_RECORD_HISTORIES") == "1":
        (HISTORIES_DIR / "mailbox-login-backoff.json").write_text(history)
