"""Activities of the time-slot request (seed 001): load it, record its status and answer, gather the facts
the routing decides on, and carry out the deliveries (task, messages) and the agent's choice (appointment)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.base import utcnow
from db.crm import add_appointment, create_task_once
from db.models import Appointment, Lead, RawPayload, SlotProposal, SlotRequest, SlotRequestStatus, User
from db.session import SessionFactory
from db.slot_store import first_contact_person
from domain.slot_routing import Delivery, RecipientFacts, RecipientKind, ResponseType, Target, UserFacts
from messaging.slot_mail import SlotMailComposer, load_slot_data
from settings import Settings
from workflows.slot_models import (
    AnswerRecord,
    AppointmentRequest,
    SlotMailRequest,
    SlotRequestInfo,
    SlotState,
    StatusRecord,
    TaskRequest,
)

MAX_COMMENT_CHARS = 2000


def _user_facts(user: User | None) -> UserFacts | None:
    if user is None or not user.is_active:
        return None
    return UserFacts(
        user_id=user.id,
        has_mobile=bool((user.mobile or "").strip()),
        sms_allowed=user.sms_allowed,
        billing_account=(user.sms_billing_account or "").strip() or None,
    )


class SlotRequestActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._mail = SlotMailComposer(sessions, settings)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_slot_request,
            self.record_slot_status,
            self.store_slot_answer,
            self.load_recipient_facts,
            self.create_slot_task,
            self.create_slot_appointment,
            self.compose_slot_message,
        ]

    async def _request(self, request_id: int) -> SlotRequest:
        async with self._sessions() as session:
            request = await session.get(SlotRequest, request_id)
        if request is None:
            raise ApplicationError(f"slot request {request_id} does not exist", type="NotFound", non_retryable=True)
        return request

    @activity.defn(name="load_slot_request")
    async def load_slot_request(self, request_id: int) -> SlotRequestInfo:
        request = await self._request(request_id)
        return SlotRequestInfo(
            request_id=request.id,
            status=SlotState(request.status),
            expires_at=request.expires_at,
            response_types=[ResponseType(kind) for kind in request.response_types],
            has_property=request.property_id is not None,
            send_invitation=request.send_invitation,
            link_nonce=request.link_nonce,
        )

    @activity.defn(name="record_slot_status")
    async def record_slot_status(self, record: StatusRecord) -> None:
        async with self._sessions.begin() as session:
            request = await session.get(SlotRequest, record.request_id)
            if request is None:
                raise ApplicationError(f"slot request {record.request_id} does not exist", non_retryable=True)
            request.status = record.state.value
            request.reason = record.reason
            if record.deliveries is not None:
                request.deliveries = [delivery.model_dump(mode="json") for delivery in record.deliveries]
            request.updated_at = utcnow()

    @activity.defn(name="store_slot_answer")
    async def store_slot_answer(self, answer: AnswerRecord) -> None:
        """The proposals and the comment (from the raw submission); a retry finds them stored and adds nothing."""
        async with self._sessions.begin() as session:
            request = await session.get(SlotRequest, answer.request_id)
            if request is None:
                raise ApplicationError(f"slot request {answer.request_id} does not exist", non_retryable=True)
            if request.submission_id is not None:
                return
            raw = await session.get(RawPayload, answer.submission_id)
            if raw is None:
                raise ApplicationError(f"submission {answer.submission_id} missing", non_retryable=True)
            comment = str(json.loads(raw.body).get("comment") or "").strip()[:MAX_COMMENT_CHARS]
            for position, slot in enumerate(answer.slots, start=1):
                session.add(
                    SlotProposal(
                        request_id=request.id, position=position, starts_at=slot.starts_at, ends_at=slot.ends_at
                    )
                )
            request.submission_id = raw.id
            request.comment = comment or None
            request.answered_at = answer.answered_at
            request.status = SlotRequestStatus.ANSWERED
            request.updated_at = utcnow()

    @activity.defn(name="load_recipient_facts")
    async def load_recipient_facts(self, request_id: int) -> RecipientFacts:
        """The recipient as it is now (seed 001): a user, or the property's first contact person and their user."""
        async with self._sessions() as session:
            request = await session.get(SlotRequest, request_id)
            if request is None:
                raise ApplicationError(f"slot request {request_id} does not exist", non_retryable=True)
            if request.recipient_kind == RecipientKind.USER:
                user = await session.get(User, request.recipient_user_id) if request.recipient_user_id else None
                return RecipientFacts(kind=RecipientKind.USER, user=_user_facts(user))
            person = await first_contact_person(session, request.property_id) if request.property_id else None
            if person is None:
                return RecipientFacts(kind=RecipientKind.CONTACT_PERSON)
            assigned = await session.get(User, person.user_id) if person.user_id else None
            return RecipientFacts(
                kind=RecipientKind.CONTACT_PERSON,
                user=_user_facts(assigned),
                contact_id=person.id,
                contact_has_email=bool(person.email),
            )

    @activity.defn(name="create_slot_task")
    async def create_slot_task(self, request: TaskRequest) -> int:
        async with self._sessions.begin() as session:
            data = await load_slot_data(session, request.request_id)
            delivery = Delivery(channel=ResponseType.TASK, target=Target.USER, user_id=request.user_id)
            subject, body = await self._mail.response_text(session, data, delivery)
            task = await create_task_once(
                session,
                idempotency_key=request.idempotency_key,
                title=subject,
                body=body,
                assignee_user_id=request.user_id,
                contact_id=data.contact.id,
                property_id=data.request.property_id,
                inquiry_id=data.request.inquiry_id,
            )
            return task.id

    @activity.defn(name="create_slot_appointment")
    async def create_slot_appointment(self, request: AppointmentRequest) -> int:
        """The chosen slot as an appointment and its `appointment.created` event, in one transaction."""
        async with self._sessions.begin() as session:
            existing = await session.scalar(
                select(Appointment).where(Appointment.idempotency_key == request.idempotency_key)
            )
            if existing is not None:
                return existing.id
            data = await load_slot_data(session, request.request_id)
            slot = next((p for p in data.proposals if p.position == request.position), None)
            if slot is None:
                raise ApplicationError(f"no proposal {request.position}", type="InvalidSlot", non_retryable=True)
            prop, contact = data.prop, data.contact
            open_leads = select(Lead.id).where(Lead.contact_id == contact.id, Lead.status == "open")
            if prop is not None:
                open_leads = open_leads.where(Lead.property_id == prop.id)
            lead_id = await session.scalar(open_leads.order_by(Lead.id.desc()).limit(1))
            now = utcnow()
            appointment = Appointment(
                idempotency_key=request.idempotency_key,
                kind="viewing" if prop else "general",
                title=f"Besichtigung {prop.external_ref}: {contact.display_name}"
                if prop
                else f"Termin: {contact.display_name}",
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                contact_id=contact.id,
                property_id=prop.id if prop else None,
                lead_id=lead_id,  # an open lead of the prospect: its overdue reminder rests until then (seed 004)
                user_id=request.user_id or (data.agent.id if data.agent else None),
                created_at=now,
            )
            await add_appointment(session, appointment, slot_request_id=data.request.id)
            data.request.chosen_position = request.position
            data.request.appointment_id = appointment.id
            data.request.updated_at = now
            return appointment.id

    @activity.defn(name="compose_slot_message")
    async def compose_slot_message(self, request: SlotMailRequest) -> int:
        return await self._mail.compose(request)
