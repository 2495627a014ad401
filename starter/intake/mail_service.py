"""Mail intake: store each mail byte for byte, then classify it, then act on it, each step once.

store()   commits the raw bytes under (mailbox, Message-ID or sha256) before anything looks at them; a mail
          fetched again (a crash before the server was told, a UIDVALIDITY change) finds its row.
process() reads a stored mail whose status is still `stored` and decides: bounce, auto-reply, reply to
          one of our mails, portal inquiry (the same IntakeService as HTTP, so the same (source, external
          id) idempotency), or unrecognised (the office's queue). Each outcome commits with its status, so a
          retry after a crash repeats only what did not commit, and every write it repeats is keyed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from mailparser_reply import EmailReplyParser
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.crm import create_task_once
from db.crm_writes import add_activity
from db.events import MailReaction, MailReplyReceived, record_event
from db.models import (
    Activity,
    ActivityKind,
    InboundKind,
    InboundMail,
    InboundStatus,
    Inquiry,
    InquiryStatus,
    InquiryStep,
    Mailbox,
    Message,
    MessageStatus,
    Property,
)
from db.session import SessionFactory
from starter.intake.mail import parse_mail, read_mail
from starter.intake.mail.message import MailView
from starter.intake.mail_classify import (
    bounce_status,
    bounced_recipients,
    is_auto_reply,
    is_bounce,
    original_message_ids,
)
from starter.intake.mail_targets import ReplyTargets, reply_targets, slot_recipient_user
from starter.intake.payload import InquiryPayload, PayloadError
from starter.intake.service import IntakeRejected, IntakeService, RawBody

log = logging.getLogger(__name__)

CHANNEL_MAIL = "mail"
REACTION_EVENT = MailReaction.KIND
REPLY_REASON = "Antwort per E-Mail"
OPEN_STATUSES = (InquiryStatus.RECEIVED, InquiryStatus.PROCESSING, InquiryStatus.WAITING_FOR_CONFIRMATION)
_OUR_MESSAGE_ID = re.compile(r"^<immoflow-(\d+)@")
_REPLY_PARSER = EmailReplyParser(languages=["de", "en"])
MAX_REPLY_TEXT = 10_000


def dedup_key(raw: bytes, message_id: str | None) -> str:
    if message_id and len(message_id) <= 290:
        return f"mid:{message_id}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def reply_text(mail: MailView) -> str:
    """The reply without the quoted history (mail-parser-reply knows German and English quote headers)."""
    try:
        text = _REPLY_PARSER.parse_reply(text=mail.text)
    except Exception:  # a parser hiccup must not lose the reply: keep the whole text instead
        log.warning("reply parser failed; keeping the full text", exc_info=True)
        text = mail.text
    lines = (text or mail.text).strip().splitlines()
    # A quote without its "Am … schrieb …" header line is not recognised as one: drop a trailing "> " block.
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()[:MAX_REPLY_TEXT] or mail.text.strip()[:MAX_REPLY_TEXT]


@dataclass(frozen=True)
class Stored:
    inbound_id: int
    new: bool


class MailIntakeService:
    def __init__(self, sessions: SessionFactory, intake: IntakeService) -> None:
        self._sessions = sessions
        self._intake = intake

    async def store(self, mailbox_id: int, uidvalidity: int, uid: int, raw: bytes) -> Stored:
        mail = read_mail(raw)
        key = dedup_key(raw, mail.message_id)
        # Insert first: a mail seen before (after a crash or a UIDVALIDITY change) is the rare case.
        try:
            async with self._sessions.begin() as session:
                row = InboundMail(
                    mailbox_id=mailbox_id,
                    dedup_key=key,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    raw=raw,
                    message_id=(mail.message_id or None) and mail.message_id[:998],
                    sender=mail.sender[:400] or None,
                    subject=mail.subject[:500] or None,
                    status=InboundStatus.STORED,
                )
                session.add(row)
                await session.flush()
                return Stored(row.id, True)
        except IntegrityError:  # another worker stored the same mail a moment ago
            found = await self._find(mailbox_id, key)
            if found is None:
                raise
            return Stored(found, False)

    async def _find(self, mailbox_id: int, key: str) -> int | None:
        async with self._sessions() as session:
            found: int | None = await session.scalar(
                select(InboundMail.id).where(InboundMail.mailbox_id == mailbox_id, InboundMail.dedup_key == key)
            )
            return found

    async def process(self, inbound_id: int) -> str:
        """Classify and act on one stored mail; returns its kind. A mail already processed is left alone."""
        async with self._sessions() as session:
            row = await session.get(InboundMail, inbound_id)
            if row is None:
                raise LookupError(f"inbound mail {inbound_id} does not exist")
            if row.status != InboundStatus.STORED:
                return row.kind or InboundKind.UNRECOGNISED
            mailbox = await session.get(Mailbox, row.mailbox_id)
            assert mailbox is not None
            raw, address = row.raw, mailbox.address
        mail = read_mail(raw)
        if is_bounce(mail):
            await self._bounce(inbound_id, mail)
            return InboundKind.BOUNCE
        # Portals' own mails are machine-made too (Auto-Submitted: auto-generated): only an automatic mail
        # about one of ours is an auto-reply before the parsers have had their say.
        automatic = is_auto_reply(mail)
        if automatic and await self._is_related(mail, address):
            await self._auto_reply(inbound_id, mail, address)
            return InboundKind.AUTO_REPLY
        if not automatic and await self._reply(inbound_id, mail, address):
            return InboundKind.REPLY
        outcome = parse_mail(mail, mailbox=address, time_zone=self._intake.time_zone)
        if outcome.payload is None and automatic:
            await self._auto_reply(inbound_id, mail, address)  # recorded; nothing to act on
            return InboundKind.AUTO_REPLY
        if outcome.payload is None:
            await self._finish(inbound_id, InboundKind.UNRECOGNISED, InboundStatus.UNRECOGNISED, outcome.problem)
            return InboundKind.UNRECOGNISED
        try:
            result = await self.submit(raw, outcome.payload)
        except IntakeRejected as exc:
            await self._finish(inbound_id, InboundKind.UNRECOGNISED, InboundStatus.UNRECOGNISED, exc.reason)
            return InboundKind.UNRECOGNISED
        await self._finish(
            inbound_id, InboundKind.INQUIRY, InboundStatus.PROCESSED, None, inquiry_id=result, parser=outcome.parser
        )
        return InboundKind.INQUIRY

    async def submit(self, raw: bytes, payload: InquiryPayload) -> int:
        """Through the HTTP intake's path: raw kept, inquiry + event once per (source, external id)."""

        def parsed(_: bytes) -> InquiryPayload:
            return payload

        body = RawBody(channel=CHANNEL_MAIL, data=raw, content_type="message/rfc822")
        result = await self._intake.submit(body, parsed)
        return result.inquiry_id

    async def _finish(
        self,
        inbound_id: int,
        kind: str,
        status: str,
        detail: str | None,
        *,
        inquiry_id: int | None = None,
        parser: str | None = None,
        related_message_id: int | None = None,
        activity_id: int | None = None,
        slot_request_id: int | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        async def apply(s: AsyncSession) -> None:
            row = await s.get(InboundMail, inbound_id)
            assert row is not None
            row.kind, row.status, row.detail, row.parser = kind, status, detail, parser
            row.inquiry_id = inquiry_id or row.inquiry_id
            row.related_message_id = related_message_id
            row.activity_id = activity_id
            row.slot_request_id = slot_request_id
            row.processed_at = utcnow()

        if session is not None:
            await apply(session)
            return
        async with self._sessions.begin() as own:
            await apply(own)

    # --- bounces, auto-replies and replies ---------------------------------------------------------------

    async def _our_message(self, session: AsyncSession, ids: list[str]) -> Message | None:
        for message_id in ids:
            match = _OUR_MESSAGE_ID.match(message_id)
            if match:
                found = await session.get(Message, int(match.group(1)))
                if found is not None:
                    return found
            found = await session.scalar(select(Message).where(Message.smtp_message_id == message_id).limit(1))
            if found is not None:
                return found
        return None

    async def _bounce(self, inbound_id: int, mail: MailView) -> None:
        async with self._sessions.begin() as session:
            message = await self._our_message(session, original_message_ids(mail))
            recipients = ", ".join(bounced_recipients(mail)) or "unbekannt"
            detail = f"Unzustellbar an {recipients}" + (f": {bounce_status(mail)}" if bounce_status(mail) else "")
            inquiry = None
            if message is not None:
                message.status = MessageStatus.BOUNCED
                message.error = detail[:2000]
                if message.inquiry_id is not None:
                    inquiry = await session.get(Inquiry, message.inquiry_id)
            if inquiry is not None:
                self._step(session, inquiry, f"mail:{inbound_id}", "Mail unzustellbar", detail)
                self._reaction(session, inquiry, "bounce", inbound_id, detail)
            await self._finish(
                inbound_id,
                InboundKind.BOUNCE,
                InboundStatus.PROCESSED,
                detail if message is not None else f"{detail} (keine unserer Mails gefunden)",
                inquiry_id=inquiry.id if inquiry else None,
                related_message_id=message.id if message else None,
                session=session,
            )

    async def _is_related(self, mail: MailView, mailbox: str) -> bool:
        async with self._sessions() as session:
            message = await self._our_message(session, mail.in_reply_to + mail.references)
            return message is not None or await self._inquiry_for(session, None, mail, mailbox) is not None

    async def _auto_reply(self, inbound_id: int, mail: MailView, mailbox: str) -> None:
        async with self._sessions.begin() as session:
            message = await self._our_message(session, mail.in_reply_to + mail.references)
            inquiry = await self._inquiry_for(session, message, mail, mailbox)
            if inquiry is not None:
                # Recorded for the timeline, but not a reaction: the reminders keep their schedule.
                self._step(session, inquiry, f"mail:{inbound_id}", "Automatische Antwort erhalten", mail.subject)
            await self._finish(
                inbound_id,
                InboundKind.AUTO_REPLY,
                InboundStatus.PROCESSED,
                "Automatische Antwort: keine Reaktion",
                inquiry_id=inquiry.id if inquiry else None,
                related_message_id=message.id if message else None,
                session=session,
            )

    async def _inquiry_for(
        self, session: AsyncSession, message: Message | None, mail: MailView, mailbox: str
    ) -> Inquiry | None:
        if message is not None and message.inquiry_id is not None:
            return await session.get(Inquiry, message.inquiry_id)
        if not mail.sender:
            return None
        # No thread headers (a new mail instead of "Reply"): the prospect of an open inquiry to this mailbox.
        inquiry: Inquiry | None = await session.scalar(
            select(Inquiry)
            .where(
                Inquiry.email == mail.sender,
                Inquiry.mailbox_address == mailbox,
                Inquiry.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(Inquiry.id.desc())
            .limit(1)
        )
        return inquiry

    async def _reply(self, inbound_id: int, mail: MailView, mailbox: str) -> bool:
        async with self._sessions.begin() as session:
            message = await self._our_message(session, mail.in_reply_to + mail.references)
            if message is not None and message.channel != "email":
                message = None
            inquiry = await self._inquiry_for(session, message, mail, mailbox)
            known = (inquiry.contact_id if inquiry else None) or (message.contact_id if message else None)
            targets = await reply_targets(session, message, known, mail.sender)
            if message is None and inquiry is None and not targets:
                return False
            if message is None and inquiry is None and self._is_portal_mail(mail, mailbox):
                # Only the sender matched a lead or request, and the mail is an inquiry a parser reads (a
                # website form sent in the prospect's name): a new inquiry, not an answer to us.
                return False
            text = reply_text(mail)
            lead = targets.leads[0] if targets.leads else None
            slot = targets.slot_request
            property_id = (
                (inquiry.property_id if inquiry else None)
                or (lead.property_id if lead else None)
                or (slot.property_id if slot else None)
            )
            prop = await session.get(Property, property_id) if property_id else None
            contact_id = known or targets.contact_id
            activity = await add_activity(
                session,
                Activity(
                    kind=ActivityKind.REPLY,
                    reason=REPLY_REASON,
                    text=text,
                    contact_id=contact_id,
                    property_id=prop.id if prop else None,
                    inquiry_id=inquiry.id if inquiry else None,
                    occurred_at=mail.date or utcnow(),
                ),
            )
            who = mail.sender_name or mail.sender
            await self._reply_tasks(session, inbound_id, who, text, inquiry, message, prop, contact_id, targets)
            if inquiry is not None:
                self._step(session, inquiry, f"mail:{inbound_id}", REPLY_REASON, text[:500])
                self._reaction(session, inquiry, "reply", inbound_id, REPLY_REASON, activity_id=activity.id)
            record_event(
                session,
                MailReplyReceived(
                    inbound_mail_id=inbound_id,
                    activity_id=activity.id,
                    mailbox=mailbox,
                    contact_id=contact_id,
                    inquiry_id=inquiry.id if inquiry else None,
                    lead_ids=[lead.id for lead in targets.leads],
                    slot_request_id=slot.id if slot else None,
                ),
            )
            await self._finish(
                inbound_id,
                InboundKind.REPLY,
                InboundStatus.PROCESSED,
                None,
                inquiry_id=inquiry.id if inquiry else None,
                related_message_id=message.id if message else None,
                activity_id=activity.id,
                slot_request_id=slot.id if slot else None,
                session=session,
            )
            return True

    def _is_portal_mail(self, mail: MailView, mailbox: str) -> bool:
        return parse_mail(mail, mailbox=mailbox, time_zone=self._intake.time_zone).payload is not None

    async def _reply_tasks(
        self,
        session: AsyncSession,
        inbound_id: int,
        who: str,
        text: str,
        inquiry: Inquiry | None,
        message: Message | None,
        prop: Property | None,
        contact_id: int | None,
        targets: ReplyTargets,
    ) -> None:
        """One task "Antwort von … lesen" per person the reply concerns, each keyed, so a retry adds none.

        A lead's task is linked to the lead: its `task.created` reaches the lead's workflow, which ends the
        overdue episode (seed 004: "a new task") and restarts the phase clock at the task's creation. That is
        what a reply means for an overdue lead: the prospect moved, the next step is the agent's, and the
        task in the inbox says so more precisely than another "überfällig" reminder would; left undone,
        the lead is overdue again one phase duration later and the reminders resume.
        """
        title = f"Antwort von {who} lesen"
        done: set[int] = set()
        for lead in targets.leads:
            await create_task_once(
                session,
                idempotency_key=f"mail:{inbound_id}:lead:{lead.id}:reply-task",
                title=title,
                body=text,
                assignee_user_id=lead.taker_user_id,
                contact_id=lead.contact_id,
                property_id=lead.property_id,
                inquiry_id=inquiry.id if inquiry else None,
                lead_id=lead.id,
            )
            done.add(lead.taker_user_id)
        # The inquiry's property manager (or whom our mail was from), unless a lead or request claimed the reply.
        if inquiry is not None or (message is not None and not targets):
            manager = (prop.manager_user_id if prop and inquiry else None) or (message.user_id if message else None)
            if manager is None or manager not in done:
                await create_task_once(
                    session,
                    idempotency_key=f"mail:{inbound_id}:reply-task",
                    title=title,
                    body=text,
                    assignee_user_id=manager,
                    contact_id=contact_id,
                    property_id=prop.id if prop else None,
                    inquiry_id=inquiry.id if inquiry else None,
                    lead_id=message.lead_id if message else None,
                )
        slot = targets.slot_request
        if slot is not None:
            # The key names the request (slots:<id>:…): the task inbox links the task to it. Always its own
            # task, even for a person who has one above: it belongs to the request's answer.
            await create_task_once(
                session,
                idempotency_key=f"slots:{slot.id}:mail-reply:{inbound_id}",
                title=f"{title} (Terminanfrage {slot.id})",
                body=text,
                assignee_user_id=await slot_recipient_user(session, slot),
                contact_id=slot.contact_id,
                property_id=slot.property_id,
            )

    @staticmethod
    def _step(session: AsyncSession, inquiry: Inquiry, key: str, title: str, detail: str | None) -> None:
        session.add(
            InquiryStep(inquiry_id=inquiry.id, key=key, at=utcnow(), status=inquiry.status, title=title, detail=detail)
        )

    @staticmethod
    def _reaction(
        session: AsyncSession,
        inquiry: Inquiry,
        kind: str,
        inbound_id: int,
        reason: str,
        *,
        activity_id: int | None = None,
    ) -> None:
        """The workflow hears of it through the outbox: the dispatcher signals it, however long it is down."""
        record_event(
            session,
            MailReaction(
                inquiry_id=inquiry.id,
                workflow_id=inquiry.workflow_id,
                kind=kind,
                inbound_mail_id=inbound_id,
                activity_id=activity_id,
                reason=reason[:300],
            ),
        )

    # --- the office's decisions on unrecognised mails ----------------------------------------------------

    async def assign(self, inbound_id: int, payload: InquiryPayload, user_id: int | None) -> int:
        """An agent made an inquiry of an unrecognised mail. PayloadError/IntakeRejected when it cannot be."""
        async with self._sessions() as session:
            row = await session.get(InboundMail, inbound_id)
            if row is None:
                raise LookupError(inbound_id)
            if row.status != InboundStatus.UNRECOGNISED:
                raise PayloadError("Diese E-Mail wurde bereits bearbeitet.", status_code=409)
            raw = row.raw
        inquiry_id = await self.submit(raw, payload)
        async with self._sessions.begin() as session:
            row = await session.get(InboundMail, inbound_id)
            assert row is not None
            row.status, row.kind, row.inquiry_id = InboundStatus.ASSIGNED, InboundKind.INQUIRY, inquiry_id
            row.decided_by_user_id, row.processed_at = user_id, utcnow()
        return inquiry_id

    async def discard(self, inbound_id: int, reason: str | None, user_id: int | None) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(InboundMail, inbound_id)
            if row is None:
                raise LookupError(inbound_id)
            if row.status != InboundStatus.UNRECOGNISED:
                raise PayloadError("Diese E-Mail wurde bereits bearbeitet.", status_code=409)
            row.status, row.decided_by_user_id, row.processed_at = InboundStatus.DISCARDED, user_id, utcnow()
            row.detail = f"Verworfen: {reason}" if reason else "Verworfen"
