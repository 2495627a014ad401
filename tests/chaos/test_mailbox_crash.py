"""`kill -9` of the worker while its mailbox activity is in the middle of a batch: the next worker's attempt
(after the heartbeat timeout, 30 s) refetches what was not marked yet, and every mail is processed once."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import ColumnElement, func, select

from benchmarks.stack import ProcessStack
from db.models import InboundMail, InboundStatus, Inquiry, Mailbox
from db.session import engine_from_settings, make_session_factory
from messaging.imap_client import ImapConfig, ImapSession
from messaging.mailbox_secrets import encrypt_password
from starter.dev.demo import MAILBOX
from tests.imap_server import PASSWORD, pymap_server

MAILS = 200
TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "mail" / "website_form.eml"


def mail(n: int) -> bytes:
    raw = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <chaos-%d@immoflow-makler.de>" % n, TEMPLATE.read_bytes())
    return raw.replace(b"paula.paessler@example.org", b"paula%d@example.org" % n)


async def test_a_killed_worker_mid_batch_processes_every_mail_exactly_once(stack: ProcessStack) -> None:
    stack.extra_env["IMMOFLOW_RUN_DISPATCHER"] = "false"  # the mail intake itself starts the inquiries
    stack.start_temporal()
    stack.start_sink()
    await stack.prepare()
    settings = stack.settings().model_copy(update={"secret_key": SecretStr(stack.secret_key)})
    engine = engine_from_settings(settings)
    sessions = make_session_factory(engine)

    async def count(*where: ColumnElement[bool]) -> int:
        async with sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboundMail).where(*where)) or 0)

    try:
        with pymap_server(MAILBOX, PASSWORD) as port:
            imap = ImapConfig(host="127.0.0.1", port=port, tls="none", user=MAILBOX, password=PASSWORD)
            async with ImapSession(imap) as connection:
                for n in range(MAILS):
                    await connection.client.append(mail(n), mailbox="INBOX")
            async with sessions.begin() as session:
                mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == MAILBOX))
                assert mailbox is not None
                mailbox.imap_host, mailbox.imap_port, mailbox.imap_tls = "127.0.0.1", port, "none"
                mailbox.imap_user, mailbox.enabled = MAILBOX, True
                mailbox.imap_password_encrypted = encrypt_password(settings, PASSWORD)

            stack.start_worker("worker")  # its start ensures mailbox-<id>
            async with asyncio.timeout(120):
                while await count() < MAILS // 4:  # noqa: ASYNC110 - the worker's progress
                    await asyncio.sleep(0.05)
            stack.kill("worker")
            at_kill = await count()
            assert at_kill < MAILS, "the batch was over before the kill"
            stack.start_worker("worker")
            async with asyncio.timeout(240):
                while await count(InboundMail.status == InboundStatus.PROCESSED) < MAILS:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
            async with sessions() as session:
                inquiries = list(await session.scalars(select(Inquiry.external_id)))
            assert await count() == MAILS
            assert len(inquiries) == len(set(inquiries)) == MAILS
            async with ImapSession(imap) as connection:
                flagged = await connection.client.uid_search("FLAGGED")
            uids = [x for line in flagged.lines[:-1] for x in bytes(line).split() if x.isdigit()]
            assert len(uids) == MAILS
            print(f"\nkill -9 after {at_kill} of {MAILS} mails stored; all {MAILS} processed once afterwards")
    finally:
        await engine.dispose()
