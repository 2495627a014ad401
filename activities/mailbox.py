"""The mailbox activity: wait for new mail over IMAP, store each raw, process it, then mark it on the server.

Exactly once, by construction: (1) the raw bytes commit before anything else (keyed by Message-ID or
hash, so a refetch finds them); (2) processing is keyed per mail and skips what is done; (3) only then
is the mail flagged or moved on the server, and (4) only then does `last_uid` advance. A worker killed
anywhere in between repeats at most steps it can repeat harmlessly. A UIDVALIDITY change restarts the
UID count at 0 and the keys of step 1 keep the mails seen before from counting twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError
from temporalio import activity

from db.base import utcnow
from db.models import InboundKind, InboundMail, InboundStatus, Mailbox
from db.session import SessionFactory
from messaging.imap_client import ImapConfig, ImapError, ImapLoginError, ImapSession
from messaging.mailbox_secrets import MailboxSecretError, decrypt_password
from settings import Settings
from workflows.mailbox_models import MailboxPollRequest, MailboxPollResult

log = logging.getLogger(__name__)

POLL_INTERVAL_SECONDS = 10.0  # servers without IDLE are asked this often
# IDLE is re-issued (with a fresh UID SEARCH, and a heartbeat) this often: a mail that lands between the
# search and the start of IDLE is not always announced by the server, and must still be seen within 2 s.
IDLE_SLICE_SECONDS = 1.5
POSITION_EVERY = 25  # mails between two saves of the last UID within a batch


class StoredMail(Protocol):
    @property
    def inbound_id(self) -> int: ...

    @property
    def new(self) -> bool: ...


class MailProcessor(Protocol):
    """starter.intake.mail_service.MailIntakeService: the intake the worker injects."""

    async def store(self, mailbox_id: int, uidvalidity: int, uid: int, raw: bytes) -> StoredMail: ...

    async def process(self, inbound_id: int) -> str: ...


def imap_config(settings: Settings, mailbox: Mailbox) -> ImapConfig:
    if not mailbox.imap_host or not mailbox.imap_user or not mailbox.imap_password_encrypted:
        raise MailboxSecretError("Postfach ist nicht vollständig eingerichtet (Server, Benutzer, Passwort).")
    return ImapConfig(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        tls=mailbox.imap_tls,
        user=mailbox.imap_user,
        password=decrypt_password(settings, mailbox.imap_password_encrypted),
        folder=mailbox.folder,
    )


class MailboxActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings, processor: MailProcessor) -> None:
        self._sessions = sessions
        self._settings = settings
        self._processor = processor

    def all(self) -> list[Callable[..., Any]]:
        return [self.poll_mailbox]

    @activity.defn(name="poll_mailbox")
    async def poll_mailbox(self, request: MailboxPollRequest) -> MailboxPollResult:
        async with self._sessions() as session:
            mailbox = await session.get(Mailbox, request.mailbox_id)
            if mailbox is None or not mailbox.enabled or not mailbox.imap_host:
                return MailboxPollResult(enabled=False)
            try:
                config = imap_config(self._settings, mailbox)
            except MailboxSecretError as exc:
                await self._failed(request.mailbox_id, str(exc))
                return MailboxPollResult(enabled=True, error=str(exc))
            action, target = mailbox.processed_action, mailbox.processed_folder
            known_validity, last_uid = mailbox.uidvalidity, mailbox.last_uid
        try:
            return await self._round(request, config, action, target, known_validity, last_uid)
        except ImapLoginError as exc:  # the message names the user, never the password
            await self._failed(request.mailbox_id, str(exc))
            return MailboxPollResult(enabled=True, error=str(exc))
        except (ImapError, OSError, TimeoutError) as exc:
            message = f"{type(exc).__name__}: {exc}"[:500]
            await self._failed(request.mailbox_id, message)
            return MailboxPollResult(enabled=True, error=message)

    async def _round(
        self,
        request: MailboxPollRequest,
        config: ImapConfig,
        action: str,
        target: str | None,
        known_validity: int | None,
        last_uid: int,
    ) -> MailboxPollResult:
        deadline = time.monotonic() + request.max_seconds
        kinds: Counter[str] = Counter()
        changed = False
        async with ImapSession(config) as imap:
            assert imap.folder is not None
            validity = imap.folder.uidvalidity
            if known_validity != validity:
                # New numbering (the folder was recreated or the server migrated): start over at UID 0; the
                # raw table's keys know the mails processed under the old numbering.
                changed = known_validity is not None
                last_uid = 0
                await self._save_position(request.mailbox_id, validity, 0)
                if changed:
                    log.warning("mailbox %s: UIDVALIDITY %s -> %s", request.mailbox_id, known_validity, validity)
            if action == "move" and target:
                await imap.ensure_folder(target)
            # A round waits for mail for minutes: the office page shows at once that login and folder work.
            await self._contacted(request.mailbox_id)
            idle = imap.supports_idle()
            backlog = 0
            while True:
                activity.heartbeat(last_uid)
                uids = await imap.uids_after(last_uid)
                backlog = max(0, len(uids) - request.max_mails)
                for index, uid in enumerate(uids[: request.max_mails], start=1):
                    kinds[await self._one(imap, request.mailbox_id, validity, uid, action, target)] += 1
                    last_uid = uid
                    # Only a shortcut for the next round: the raw table's keys, not the position, make a
                    # refetch harmless, so it is saved every few mails instead of after each one.
                    if index % POSITION_EVERY == 0:
                        await self._save_position(request.mailbox_id, validity, uid)
                    activity.heartbeat(last_uid)
                if uids:
                    await self._save_position(request.mailbox_id, validity, last_uid)
                remaining = deadline - time.monotonic()
                if uids or remaining <= 0:
                    break
                if idle:
                    await imap.wait_for_news(min(IDLE_SLICE_SECONDS, remaining))
                else:
                    await asyncio.sleep(min(POLL_INTERVAL_SECONDS, remaining))
        now = utcnow()
        async with self._sessions.begin() as session:
            mailbox = await session.get(Mailbox, request.mailbox_id)
            if mailbox is not None:
                mailbox.last_contact_at, mailbox.last_error, mailbox.last_error_at = now, None, None
        return MailboxPollResult(
            enabled=True,
            last_contact_at=now,
            uidvalidity=validity,
            uidvalidity_changed=changed,
            last_uid=last_uid,
            backlog=backlog,
            kinds=dict(kinds),
            idle=idle,
        )

    async def _one(
        self, imap: ImapSession, mailbox_id: int, validity: int, uid: int, action: str, target: str | None
    ) -> str:
        raw = await imap.fetch(uid)
        if raw is None:  # expunged between SEARCH and FETCH by someone else: nothing to keep
            return "gone"
        stored = await self._processor.store(mailbox_id, validity, uid, raw)
        try:
            kind = await self._processor.process(stored.inbound_id)
        except DBAPIError:
            raise  # the database is away: retry the whole round, the raw copy is safe
        except Exception as exc:
            # A mail our code cannot handle must not block the mailbox: it waits in the office's queue.
            log.exception("mailbox %s: mail %s could not be processed", mailbox_id, stored.inbound_id)
            await self._unprocessable(stored.inbound_id, f"Fehler beim Verarbeiten ({type(exc).__name__}: {exc})")
            kind = InboundKind.UNRECOGNISED
        await imap.mark_processed(uid, action, target)
        return str(kind)

    async def _unprocessable(self, inbound_id: int, detail: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(InboundMail, inbound_id)
            if row is not None and row.status == InboundStatus.STORED:
                row.status, row.kind, row.detail = InboundStatus.UNRECOGNISED, InboundKind.UNRECOGNISED, detail[:2000]

    async def _save_position(self, mailbox_id: int, validity: int, uid: int) -> None:
        async with self._sessions.begin() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            if mailbox is not None:
                mailbox.uidvalidity, mailbox.last_uid = validity, uid

    async def _contacted(self, mailbox_id: int) -> None:
        async with self._sessions.begin() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            if mailbox is not None:
                mailbox.last_contact_at, mailbox.last_error, mailbox.last_error_at = utcnow(), None, None

    async def _failed(self, mailbox_id: int, message: str) -> None:
        log.warning("mailbox %s: %s", mailbox_id, message)
        async with self._sessions.begin() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            if mailbox is not None:
                mailbox.last_error, mailbox.last_error_at = message, utcnow()
