"""The mailbox activity against a real IMAP server: raw first, exactly once, crashes, cuts, UIDVALIDITY."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.mailbox import MailboxActivities
from db.models import InboundMail, InboundStatus, Inquiry, Mailbox
from db.session import SessionFactory
from messaging.imap_client import ImapConfig, ImapSession, append
from settings import Settings
from starter.intake.mail_service import MailIntakeService, Stored
from starter.intake.service import IntakeService
from starter.ops.metrics import read_snapshot
from tests.imap_server import PASSWORD, Relay
from workflows.mailbox_models import MailboxPollRequest, MailboxPollResult

DATA = Path(__file__).parent.parent / "data" / "mail"
PORTAL_MAILS = ("immoscout24_qp_utf8.eml", "immowelt_html_latin1.eml", "website_form.eml", "immonet_cp1252.eml")


class SimulatedCrash(BaseException):
    """Like kill -9 between two steps: nothing after it runs, no except-clause of ours sees it."""


class CrashingProcessor:
    """The real intake, with a crash right after the Nth raw copy committed (before processing it)."""

    def __init__(self, real: MailIntakeService, crash_after_store: int | None = None) -> None:
        self.real = real
        self.crash_after_store = crash_after_store
        self.stores = 0
        self.on_processed: Any = None

    async def store(self, mailbox_id: int, uidvalidity: int, uid: int, raw: bytes) -> Stored:
        stored = await self.real.store(mailbox_id, uidvalidity, uid, raw)
        self.stores += 1
        if self.stores == self.crash_after_store:
            raise SimulatedCrash
        return stored

    async def process(self, inbound_id: int) -> str:
        kind = await self.real.process(inbound_id)
        if self.on_processed is not None:
            self.on_processed()
        return kind


def processor(sessions: SessionFactory, settings: Settings, **kwargs: Any) -> CrashingProcessor:
    real = MailIntakeService(sessions, IntakeService(sessions, time_zone=settings.time_zone))
    return CrashingProcessor(real, **kwargs)


async def poll(
    sessions: SessionFactory, settings: Settings, mailbox_id: int, proc: CrashingProcessor, **kwargs: Any
) -> MailboxPollResult:
    activities = MailboxActivities(sessions, settings, proc)
    request = MailboxPollRequest(mailbox_id=mailbox_id, max_seconds=kwargs.pop("max_seconds", 0.0), max_mails=50)
    result: MailboxPollResult = await ActivityEnvironment().run(activities.poll_mailbox, request)
    return result


async def drop(imap: ImapConfig, *names: str, folder: str | None = None) -> None:
    for name in names:
        await append(imap, (DATA / name).read_bytes(), folder)


async def counts(sessions: SessionFactory) -> tuple[int, int, list[str]]:
    async with sessions() as session:
        mails = await session.scalar(select(func.count()).select_from(InboundMail))
        inquiries = list(await session.scalars(select(Inquiry.external_id).order_by(Inquiry.id)))
        return int(mails or 0), len(inquiries), inquiries


async def flagged(imap: ImapConfig) -> set[int]:
    async with ImapSession(imap) as session:
        response = await session.client.uid_search("FLAGGED")
        return {int(x) for line in response.lines[:-1] for x in bytes(line).split() if x.isdigit()}


async def test_each_mail_is_stored_raw_processed_and_flagged(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], imap: ImapConfig
) -> None:
    await drop(imap, *PORTAL_MAILS, "unrecognised_newsletter.eml")
    mailbox_id = office["mailbox"].id
    result = await poll(sessions, settings, mailbox_id, processor(sessions, settings))
    assert result.kinds == {"inquiry": 4, "unrecognised": 1}
    assert result.backlog == 0
    mails, inquiries, ids = await counts(sessions)
    assert (mails, inquiries) == (5, 4)
    assert "IS24-88001" in ids and "IW-55123" in ids
    async with sessions() as session:
        rows = list(await session.scalars(select(InboundMail).order_by(InboundMail.uid)))
        mailbox = await session.get(Mailbox, mailbox_id)
    assert rows[0].raw == (DATA / PORTAL_MAILS[0]).read_bytes()  # byte for byte, CRLF and all
    assert [r.status for r in rows].count(InboundStatus.UNRECOGNISED) == 1
    assert mailbox is not None and mailbox.last_uid == rows[-1].uid and mailbox.last_error is None
    assert await flagged(imap) == {r.uid for r in rows}
    again = await poll(sessions, settings, mailbox_id, processor(sessions, settings))
    assert again.kinds == {}
    assert (await counts(sessions))[:2] == (5, 4)
    snapshot = await read_snapshot(sessions)
    assert snapshot.inbound_mails == {("inquiry", "processed"): 4, ("unrecognised", "unrecognised"): 1}


async def test_a_crash_mid_batch_processes_every_mail_exactly_once(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], imap: ImapConfig
) -> None:
    await drop(imap, *PORTAL_MAILS)
    mailbox_id = office["mailbox"].id
    crashing = processor(sessions, settings, crash_after_store=3)
    with pytest.raises(SimulatedCrash):
        await poll(sessions, settings, mailbox_id, crashing)
    mails, inquiries, _ = await counts(sessions)
    assert (mails, inquiries) == (3, 2)  # the third is stored, not processed, and not flagged
    assert len(await flagged(imap)) == 2
    await poll(sessions, settings, mailbox_id, processor(sessions, settings))
    mails, inquiries, ids = await counts(sessions)
    assert (mails, inquiries) == (4, 4)
    assert len(set(ids)) == 4
    assert len(await flagged(imap)) == 4


async def test_the_first_contact_shows_while_the_round_still_waits_for_mail(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any]
) -> None:
    """A new mailbox, nothing in it yet: the office page must not say "noch nie" for a whole round."""
    mailbox_id = office["mailbox"].id
    running = asyncio.create_task(poll(sessions, settings, mailbox_id, processor(sessions, settings), max_seconds=30))
    try:
        async with asyncio.timeout(25):
            while True:
                async with sessions() as session:
                    mailbox = await session.get(Mailbox, mailbox_id)
                    assert mailbox is not None
                if mailbox.last_contact_at is not None:
                    break
                assert not running.done(), running  # the round ended before it recorded the contact
                await asyncio.sleep(0.1)
        assert not running.done() and mailbox.last_error is None
    finally:
        running.cancel()
        with contextlib.suppress(BaseException):
            await running


async def test_a_dropped_connection_is_an_error_shown_and_the_retry_loses_nothing(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], imap: ImapConfig, relay: Relay
) -> None:
    await drop(imap, *PORTAL_MAILS)
    mailbox_id = office["mailbox"].id
    proc = processor(sessions, settings)
    processed = 0

    def cut_after_two() -> None:
        nonlocal processed
        processed += 1
        if processed == 2:
            relay.cut()

    proc.on_processed = cut_after_two
    failed = await poll(sessions, settings, mailbox_id, proc)
    assert failed.error is not None and "Verbindung" in failed.error
    async with sessions() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
        assert mailbox is not None and mailbox.last_error
    await poll(sessions, settings, mailbox_id, processor(sessions, settings))
    mails, inquiries, ids = await counts(sessions)
    assert (mails, inquiries, len(set(ids))) == (4, 4, 4)
    async with sessions() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
        assert mailbox is not None and mailbox.last_error is None


async def test_a_uidvalidity_change_neither_loses_nor_repeats_mail(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], imap: ImapConfig
) -> None:
    async with ImapSession(imap) as session:
        await session.client.create("Anfragen")
    async with sessions.begin() as session:
        mailbox = await session.get(Mailbox, office["mailbox"].id)
        assert mailbox is not None
        mailbox.folder = "Anfragen"
    await drop(imap, *PORTAL_MAILS[:2], folder="Anfragen")
    first = await poll(sessions, settings, office["mailbox"].id, processor(sessions, settings))
    assert first.kinds == {"inquiry": 2}
    async with ImapSession(imap) as session:  # the folder is recreated: new UIDVALIDITY, UIDs from 1 again
        await session.client.delete("Anfragen")
        await session.client.create("Anfragen")
    await drop(imap, *PORTAL_MAILS[:3], folder="Anfragen")
    second = await poll(sessions, settings, office["mailbox"].id, processor(sessions, settings))
    assert second.uidvalidity_changed and second.uidvalidity != first.uidvalidity
    assert second.kinds == {"inquiry": 3}  # the two known ones again (found, not repeated) and one new
    mails, inquiries, ids = await counts(sessions)
    assert (mails, inquiries, len(set(ids))) == (3, 3, 3)


async def test_move_puts_processed_mail_into_the_folder(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], imap: ImapConfig
) -> None:
    async with sessions.begin() as session:
        mailbox = await session.get(Mailbox, office["mailbox"].id)
        assert mailbox is not None
        mailbox.processed_action, mailbox.processed_folder = "move", "Erledigt"
    await drop(imap, *PORTAL_MAILS[:2])
    await poll(sessions, settings, office["mailbox"].id, processor(sessions, settings))
    async with ImapSession(imap) as session:
        inbox = await session.uids_after(0)
        done = await session.select("Erledigt")
    assert inbox == []
    assert done.uidnext is not None and done.uidnext > 1


async def test_a_refused_login_is_recorded_without_the_password(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from messaging.mailbox_secrets import encrypt_password

    wrong = "falsches-Passwort-123"
    async with sessions.begin() as session:
        mailbox = await session.get(Mailbox, office["mailbox"].id)
        assert mailbox is not None
        mailbox.imap_password_encrypted = encrypt_password(settings, wrong)
    caplog.set_level("DEBUG")
    failed = await poll(sessions, settings, office["mailbox"].id, processor(sessions, settings))
    assert failed.error is not None and "abgelehnt" in failed.error  # the workflow retries it with backoff
    async with sessions() as session:
        mailbox = await session.get(Mailbox, office["mailbox"].id)
        assert mailbox is not None and mailbox.last_error is not None
        assert "abgelehnt" in mailbox.last_error
        assert mailbox.imap_password_encrypted is not None and wrong not in mailbox.imap_password_encrypted
    for secret in (wrong, PASSWORD):
        assert secret not in caplog.text
        assert secret not in failed.model_dump_json()


# Batching and its bookkeeping are the same code on both databases; the thousand mails run once, on the
# production database (half a minute of CI each).
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_thousand_mail_backlog_is_worked_in_batches(
    sessions: SessionFactory, settings: Settings, office: dict[str, Any], imap: ImapConfig
) -> None:
    template = (DATA / "website_form.eml").read_bytes()
    async with ImapSession(imap) as session:
        for n in range(1000):
            raw = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <form-%d@immoflow-makler.de>" % n, template)
            raw = raw.replace(b"paula.paessler@example.org", b"paula%d@example.org" % n)
            await session.client.append(raw, mailbox="INBOX")
    rounds: list[MailboxPollResult] = []
    while not rounds or rounds[-1].backlog or rounds[-1].kinds:
        rounds.append(await poll(sessions, settings, office["mailbox"].id, processor(sessions, settings)))
    assert rounds[0].backlog == 950  # batches of max_mails=50
    mails, inquiries, ids = await counts(sessions)
    assert (mails, inquiries, len(set(ids))) == (1000, 1000, 1000)
