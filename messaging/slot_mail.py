"""Composing the time-slot request's messages into the outbox: invitation, answer (email/SMS/task text),
and the confirmation with its .ics invitation once the agent picked a slot.

Mails to the prospect come from the agent (the recipient user, else the property's manager); the answer
comes from the office address with the prospect as Reply-To, so the agent can simply answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import Appointment, Contact, MessageTemplate, Property, SlotProposal, SlotRequest, User
from db.session import SessionFactory
from db.slot_store import slot_link
from domain.slot_routing import Delivery, Target
from messaging import default_templates, l10n
from messaging.ics import CalendarEvent, calendar
from messaging.inquiry_mail import key_facts, mailbox_name, salutation_line
from messaging.outbox import NewMessage, enqueue_message
from messaging.sms import sms_text
from messaging.templating import TemplateRenderError, render_mail
from settings import Settings
from workflows.slot_models import SlotMailRequest


def slot_text(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """Like "Di., 01.12.2026, 10:00–11:00 Uhr", in the office's time zone."""
    return l10n.time_range(starts_at, ends_at, zone)


def property_address(prop: Property) -> str:
    place = " ".join(part for part in (prop.zip_code, prop.city) if part)
    return ", ".join(part for part in (prop.street, place) if part)


def prospect_summary(data: SlotData) -> str:
    """The title in the prospect's calendar, from their side: what and where, not the office's "W-1001: name"."""
    if data.prop is None:
        return f"Termin mit {data.agent.name}" if data.agent else "Termin"
    return ", ".join(part for part in (f"Besichtigung {data.prop.title}", data.prop.street) if part)


def prospect_description(data: SlotData) -> str:
    """What the prospect needs at the door: the property, its address and whom to call."""
    lines: list[str] = []
    if data.prop is not None:
        lines.append(f"Besichtigung: {data.prop.title} ({data.prop.external_ref})")
        address = property_address(data.prop)
        if address:
            lines.append(f"Adresse: {address}")
    if data.agent is not None:
        lines.append(f"Ihr Ansprechpartner: {data.agent.name} ({data.agent.email})")
    return "\n".join(lines)


@dataclass
class SlotData:
    """Everything the request's messages talk about, loaded in one session."""

    request: SlotRequest
    contact: Contact
    prop: Property | None
    agent: User | None
    proposals: list[SlotProposal]


async def load_slot_data(session: AsyncSession, request_id: int) -> SlotData:
    request = await session.get(SlotRequest, request_id)
    if request is None:
        raise ApplicationError(f"slot request {request_id} does not exist", type="NotFound", non_retryable=True)
    contact = await session.get(Contact, request.contact_id)
    assert contact is not None  # foreign key
    prop = await session.get(Property, request.property_id) if request.property_id else None
    agent_id = request.recipient_user_id or (prop.manager_user_id if prop else None)
    agent = await session.get(User, agent_id) if agent_id else None
    proposals = await session.scalars(
        select(SlotProposal).where(SlotProposal.request_id == request.id).order_by(SlotProposal.position)
    )
    return SlotData(request, contact, prop, agent, list(proposals))


ICS_CONTENT_TYPE = "text/calendar; method=REQUEST; charset=utf-8"


class SlotMailComposer:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self.zone = ZoneInfo(settings.time_zone)

    def context(self, data: SlotData) -> dict[str, Any]:
        contact, prop, agent = data.contact, data.prop, data.agent
        return {
            "request_id": data.request.id,
            "salutation_line": salutation_line(contact.salutation, contact.last_name, contact.first_name),
            "prospect": {
                "name": contact.display_name,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "email": contact.email or "",
                "phone": contact.mobile or contact.phone or "",
            },
            "is_viewing": prop is not None,
            "property": {
                "title": prop.title if prop else "",
                "ref": prop.external_ref if prop else "",
                "address": property_address(prop) if prop else "",
                "key_facts": key_facts(prop) if prop else [],
            },
            "agent": {"name": agent.name if agent else "Ihr Immobilienteam", "email": agent.email if agent else ""},
            "recipient": {"name": "Team"},
            "time_slot_link": slot_link(self._settings, data.request),
            "link_valid_until": l10n.day_time(data.request.expires_at, self.zone),
            "slots": [slot_text(p.starts_at, p.ends_at, self.zone) for p in data.proposals],
            "comment": data.request.comment or "",
            "fallback_note": "",
            "appointment": {"text": ""},
        }

    async def render(self, session: AsyncSession, key: str, context: dict[str, Any]) -> tuple[str, str]:
        row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
        if row is not None:
            subject, body = row.subject, row.body
        else:  # a database seeded before this feature: the built-in text
            fallback = next((t for t in default_templates.defaults() if t.key == key), None)
            if fallback is None:
                raise ApplicationError(f"template {key!r} does not exist", type="TemplateError", non_retryable=True)
            subject, body = fallback.subject, fallback.body
        try:
            return render_mail(subject, body, context)
        except TemplateRenderError as exc:
            raise ApplicationError(f"template {key!r}: {exc}", type="TemplateError", non_retryable=True) from exc

    def _from_agent(self, data: SlotData) -> tuple[str, str | None]:
        if data.agent is None:
            return self._settings.mail_from, None
        return mailbox_name(data.agent.name, data.agent.email), data.agent.email

    async def response_recipient(self, session: AsyncSession, data: SlotData, delivery: Delivery) -> tuple[str, str]:
        """(name, email) the answer goes to; the office is the property manager or the office sender."""
        if delivery.target == Target.USER and delivery.user_id is not None:
            user = await session.get(User, delivery.user_id)
            if user is not None:
                return user.name, user.email
        if delivery.target == Target.CONTACT and delivery.contact_id is not None:
            person = await session.get(Contact, delivery.contact_id)
            if person is not None and person.email:
                return person.display_name, person.email
        if data.prop is not None and data.prop.manager_user_id is not None:
            manager = await session.get(User, data.prop.manager_user_id)
            if manager is not None:
                return manager.name, manager.email
        name, address = parseaddr(self._settings.mail_from)
        return name or "Büro", address

    async def response_text(self, session: AsyncSession, data: SlotData, delivery: Delivery) -> tuple[str, str]:
        """Subject and body of the answer as email or task (both read the same)."""
        context = self.context(data)
        context["recipient"] = {"name": (await self.response_recipient(session, data, delivery))[0]}
        context["fallback_note"] = "; ".join(delivery.reasons)
        return await self.render(session, "slots.response", context)

    async def compose(self, mail: SlotMailRequest) -> int:
        async with self._sessions.begin() as session:
            data = await load_slot_data(session, mail.request_id)
            if mail.kind == "invitation":
                new = await self._invitation(session, data, mail)
            elif mail.kind == "response":
                new = await self._response(session, data, mail)
            elif mail.kind == "sms":
                new = await self._sms(session, data, mail)
            else:
                new = await self._confirmation(session, data, mail)
            message = await enqueue_message(session, new, self._settings)
            await session.flush()
            return message.id

    def _to_prospect(self, data: SlotData) -> str:
        if not data.contact.email:
            raise ApplicationError("the contact has no email address", type="NoAddress", non_retryable=True)
        return mailbox_name(data.contact.display_name, data.contact.email)

    async def _invitation(self, session: AsyncSession, data: SlotData, mail: SlotMailRequest) -> NewMessage:
        subject, body = await self.render(session, "slots.invitation", self.context(data))
        sender, reply_to = self._from_agent(data)
        return NewMessage(
            idempotency_key=mail.idempotency_key,
            template_key="slots.invitation",
            sender=sender,
            recipient=self._to_prospect(data),
            reply_to=reply_to,
            subject=subject,
            body_text=body,
            inquiry_id=data.request.inquiry_id,
            contact_id=data.contact.id,
        )

    async def _response(self, session: AsyncSession, data: SlotData, mail: SlotMailRequest) -> NewMessage:
        assert mail.delivery is not None
        subject, body = await self.response_text(session, data, mail.delivery)
        name, address = await self.response_recipient(session, data, mail.delivery)
        return NewMessage(
            idempotency_key=mail.idempotency_key,
            template_key="slots.response",
            sender=self._settings.mail_from,
            recipient=mailbox_name(name, address),
            reply_to=data.contact.email,
            subject=subject,
            body_text=body,
            inquiry_id=data.request.inquiry_id,
            contact_id=data.contact.id,
            user_id=mail.delivery.user_id if mail.delivery.target == Target.USER else None,
        )

    async def _sms(self, session: AsyncSession, data: SlotData, mail: SlotMailRequest) -> NewMessage:
        delivery = mail.delivery
        assert delivery is not None and delivery.user_id is not None
        user = await session.get(User, delivery.user_id)
        if user is None or not user.mobile:  # changed since the routing decision: the workflow falls back
            raise ApplicationError("the user has no mobile number", type="PermanentDeliveryError", non_retryable=True)
        _, text = await self.render(session, "slots.sms", self.context(data))
        return NewMessage(
            idempotency_key=mail.idempotency_key,
            channel="sms",
            template_key="slots.sms",
            sender=self._settings.sms_sender,
            recipient=user.mobile,
            body_text=sms_text(text),
            inquiry_id=data.request.inquiry_id,
            contact_id=data.contact.id,
            user_id=user.id,
            # Seed 001: the SMS is billed to its recipient; the account is the one the routing saw.
            cost_cents=self._settings.sms_cost_cents,
            billing_account=delivery.billing_account,
        )

    async def _confirmation(self, session: AsyncSession, data: SlotData, mail: SlotMailRequest) -> NewMessage:
        appointment = await session.get(Appointment, mail.appointment_id) if mail.appointment_id else None
        if appointment is None:
            raise ApplicationError("the appointment does not exist", type="NotFound", non_retryable=True)
        context = self.context(data)
        context["appointment"] = {"text": slot_text(appointment.starts_at, appointment.ends_at, self.zone)}
        subject, body = await self.render(session, "slots.confirmation", context)
        sender, reply_to = self._from_agent(data)
        attachment = self._write_ics(data, appointment, body)
        return NewMessage(
            idempotency_key=mail.idempotency_key,
            template_key="slots.confirmation",
            sender=sender,
            recipient=self._to_prospect(data),
            reply_to=reply_to,
            subject=subject,
            body_text=body,
            attachments=[
                {
                    "path": attachment,
                    "filename": "Termin.ics",
                    "content_type": ICS_CONTENT_TYPE,
                }
            ],
            inquiry_id=data.request.inquiry_id,
            contact_id=data.contact.id,
        )

    def _write_ics(self, data: SlotData, appointment: Appointment, body: str) -> str:
        """Write the invitation below the data dir (attachments are paths there); the same file on a retry."""
        domain = parseaddr(self._settings.mail_from)[1].rpartition("@")[2] or "immoflow.local"
        event = CalendarEvent(
            uid=f"slots-{data.request.id}-appointment-{appointment.id}@{domain}",
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            created_at=appointment.created_at,
            summary=prospect_summary(data),
            description=prospect_description(data),
            location=property_address(data.prop) if data.prop else "",
            organizer_name=data.agent.name if data.agent else "",
            organizer_email=data.agent.email if data.agent else "",
            attendee_name=data.contact.display_name,
            attendee_email=data.contact.email or "",
        )
        relative = Path("ics") / f"slots-{data.request.id}.ics"
        path = self._settings.data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(calendar(event).encode())  # CRLF line ends as RFC 5545 wants, untranslated
        activity.logger.info("calendar invitation written to %s", relative)
        return relative.as_posix()
