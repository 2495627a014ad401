"""Activities of the inquiry manager: configuration snapshot, checks, timeline, address, tasks, mails."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.permanent_errors import reason
from activities.widerruf import expose_wait
from db.app_settings import INQUIRY_MANAGER_KEY, load_section
from db.base import utcnow
from db.crm import (
    ProspectAddress,
    create_contact,
    create_task_once,
    created_for_inquiry,
    find_duplicate,
    latest_stop_activity,
)
from db.models import (
    ActivityKind,
    Contact,
    ContactStatus,
    Inquiry,
    InquiryStatus,
    InquiryStep,
    Mailbox,
    MarketingStatus,
    Property,
    PropertyVisibility,
    RawPayload,
)
from db.session import SessionFactory
from domain.inquiry_rules import match_exception
from messaging.inquiry_mail import InquiryMailComposer
from messaging.outbox_delivery import OutboxDelivery
from settings import Settings
from workflows.inquiry_models import (
    AddressRequest,
    AddressResult,
    Assessment,
    AssessRequest,
    InquiryManagerConfig,
    MailOutcome,
    MailRequest,
    Preparation,
    ReminderDraft,
    ReminderRequest,
    StepBatch,
    StepRecord,
    StopCheck,
    StopFound,
    TaskRequest,
)


async def _inquiry(session: AsyncSession, inquiry_id: int) -> Inquiry:
    inquiry = await session.get(Inquiry, inquiry_id)
    if inquiry is None:
        raise ApplicationError(f"inquiry {inquiry_id} does not exist", type="NotFound", non_retryable=True)
    return inquiry


async def _property_problem(session: AsyncSession, inquiry: Inquiry, prop: Property | None) -> str | None:
    """Why seed 002's first check fails, or None: active marketing and visible to the mailbox's main user."""
    if prop is None:
        return f"Immobilie {inquiry.property_ref or '(ohne Objektnummer)'} ist nicht bekannt"
    if prop.archived or prop.marketing_status != MarketingStatus.ACTIVE:
        return f"Immobilie {prop.external_ref} ist nicht in aktiver Vermarktung ({prop.marketing_status})"
    mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == (inquiry.mailbox_address or "").lower()))
    if mailbox is None:
        return f"Postfach {inquiry.mailbox_address or '(keins)'} ist nicht für den Anfragemanager eingerichtet"
    visible = (
        prop.visible_to_all
        or prop.manager_user_id == mailbox.main_user_id
        or bool(
            await session.scalar(
                select(
                    exists().where(
                        PropertyVisibility.property_id == prop.id,
                        PropertyVisibility.user_id == mailbox.main_user_id,
                    )
                )
            )
        )
    )
    if not visible:
        return f"Immobilie {prop.external_ref} ist für den Hauptbenutzer des Postfachs nicht sichtbar"
    return None


async def _record_steps(session: AsyncSession, steps: list[StepRecord]) -> None:
    """Timeline entries + current status, in order; a retry with the same keys adds nothing."""
    for step in steps:
        inquiry = await _inquiry(session, step.inquiry_id)
        seen = step.timeline and await session.scalar(
            select(InquiryStep.id).where(InquiryStep.inquiry_id == inquiry.id, InquiryStep.key == step.key)
        )
        if step.timeline and seen is None:
            session.add(
                InquiryStep(
                    inquiry_id=inquiry.id,
                    key=step.key,
                    at=utcnow(),
                    status=step.state.value,
                    title=step.title,
                    detail=step.detail,
                )
            )
        inquiry.status = step.state.value
        inquiry.reason = step.reason
        inquiry.next_step = step.next_step
        inquiry.next_step_at = step.next_step_at
        inquiry.updated_at = utcnow()
        for field in ("contact_id", "duplicate_contact_id", "property_id"):
            value = getattr(step, field)
            if value is not None:
                setattr(inquiry, field, value)
        await session.flush()  # the next step's lookup of the same key sees this one


class InquiryActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings, delivery: OutboxDelivery) -> None:
        self._sessions = sessions
        self._mail = InquiryMailComposer(sessions, settings)
        self._delivery = delivery

    def all(self) -> list[Callable[..., Any]]:
        return [
            # Before issue 19: one activity per status and per compose/deliver (running workflows' histories).
            self.load_inquiry_config,
            self.assess_inquiry,
            self.record_inquiry_step,
            self.compose_inquiry_mail,
            # Both versions.
            self.create_inquiry_address,
            self.create_inquiry_task,
            self.find_stop_activity,
            # Since issue 19: the steps travel with the work.
            self.prepare_inquiry,
            self.record_inquiry_steps,
            self.send_inquiry_mail,
            self.prepare_inquiry_reminder,
        ]

    async def _record(self, steps: list[StepRecord]) -> None:
        if steps:
            async with self._sessions.begin() as session:
                await _record_steps(session, steps)

    @activity.defn(name="prepare_inquiry")
    async def prepare_inquiry(self, inquiry_id: int) -> Preparation:
        """The settings snapshot and the intake checks in one step (a local activity of the workflow)."""
        config = await self.load_inquiry_config()
        assessment = await self.assess_inquiry(AssessRequest(inquiry_id=inquiry_id, exceptions=config.exceptions))
        return Preparation(config=config, assessment=assessment)

    @activity.defn(name="record_inquiry_steps")
    async def record_inquiry_steps(self, batch: StepBatch) -> None:
        await self._record(batch.steps)

    @activity.defn(name="send_inquiry_mail")
    async def send_inquiry_mail(self, request: MailRequest) -> MailOutcome:
        """Record the earlier steps, compose into the outbox, deliver, record REQUEST.after.

        One activity per mail: the outbox row (by its idempotency key) makes a retry compose nothing twice,
        and the delivery's claim and lease send it once. An exposé under a Widerruf period it must wait out
        is neither composed nor sent: the answer says until when."""
        async with self._delivery.heartbeating():
            await self._record(request.steps)
            if request.widerruf_check:
                async with self._sessions() as session:
                    wait = await expose_wait(session, request.inquiry_id)
                if wait.wait_until is not None and wait.wait_until > utcnow():
                    return MailOutcome(wait_until=wait.wait_until)
            message_id = await self._mail.compose(request)
            await self._delivery.deliver(message_id)
            await self._record(request.after)
        return MailOutcome(message_id=message_id)

    @activity.defn(name="prepare_inquiry_reminder")
    async def prepare_inquiry_reminder(self, request: ReminderRequest) -> ReminderDraft:
        """The stop-activity check and, only without a stop, the reminder composed (the workflow still decides
        whether to send it: a confirmation may have arrived meanwhile)."""
        stop = await self.find_stop_activity(request.check)
        if stop is not None:
            return ReminderDraft(stop=stop)
        return ReminderDraft(message_id=await self._mail.compose(request.mail))

    @activity.defn(name="load_inquiry_config")
    async def load_inquiry_config(self) -> InquiryManagerConfig:
        async with self._sessions() as session:
            try:
                return await load_section(session, INQUIRY_MANAGER_KEY, InquiryManagerConfig)
            except ValidationError as exc:
                # Settings stored before their bounds existed: no retry repairs them, the office must.
                fields = sorted({str(error["loc"][0]) for error in exc.errors()})
                raise ApplicationError(
                    f"Einstellungen des Anfragemanagers ungültig: {', '.join(fields)}",
                    type="InvalidSettings",
                    non_retryable=True,
                ) from exc

    @activity.defn(name="assess_inquiry")
    async def assess_inquiry(self, request: AssessRequest) -> Assessment:
        async with self._sessions() as session:
            inquiry = await _inquiry(session, request.inquiry_id)
            prop = await session.scalar(select(Property).where(Property.external_ref == inquiry.property_ref))
            problem = await _property_problem(session, inquiry, prop)
            if problem is not None or prop is None:
                return Assessment(property_ok=False, property_reason=problem, property_ref=inquiry.property_ref)
            contact_id = await session.scalar(
                select(Contact.id)
                .where(
                    Contact.email == inquiry.email.lower(),
                    Contact.status != ContactStatus.ARCHIVED,
                    # made from this inquiry by an automation: the prospect is not "known" because of it
                    or_(Contact.source.is_(None), ~created_for_inquiry(inquiry.id)),  # NULL LIKE is NULL
                )
                .order_by(Contact.id)
                .limit(1)
            )
            pending = await session.scalar(
                select(Inquiry.workflow_id)
                .where(
                    Inquiry.email == inquiry.email.lower(),
                    Inquiry.status == InquiryStatus.WAITING_FOR_CONFIRMATION,
                    Inquiry.id < inquiry.id,
                )
                .order_by(Inquiry.id)
                .limit(1)
            )
            return Assessment(
                property_ok=True,
                property_id=prop.id,
                property_ref=prop.external_ref,
                exception=match_exception(
                    request.exceptions,
                    portal=inquiry.source,
                    property_ref=prop.external_ref,
                    email=inquiry.email,
                    mailbox=inquiry.mailbox_address,
                ),
                existing_contact_id=contact_id,
                pending_inquiry_workflow_id=pending,
            )

    @activity.defn(name="record_inquiry_step")
    async def record_inquiry_step(self, step: StepRecord) -> None:
        """Timeline entry + current status; a retry with the same key adds nothing."""
        await self._record([step])

    @activity.defn(name="create_inquiry_address")
    async def create_inquiry_address(self, request: AddressRequest) -> AddressResult:
        async with self._sessions.begin() as session:
            await _record_steps(session, request.steps)
            inquiry = await _inquiry(session, request.inquiry_id)
            if inquiry.contact_id is not None:  # a retry after the commit: the address exists
                return AddressResult(contact_id=inquiry.contact_id)
            address = await self._address(session, inquiry, request.submission_id)
            own = await session.scalar(
                select(Contact)
                .where(created_for_inquiry(inquiry.id), Contact.status != ContactStatus.ARCHIVED)
                .order_by(Contact.id)
                .limit(1)
            )
            if own is not None:  # an automation made the prospect's contact from this inquiry: it is theirs
                _complete(own, address)
                inquiry.contact_id = own.id
                return AddressResult(contact_id=own.id)
            if not request.force:
                duplicate = await find_duplicate(session, address, request.duplicate_check)
                if duplicate is not None:
                    return AddressResult(duplicate_contact_id=duplicate.contact_id, duplicate_reason=duplicate.reason)
            else:
                # "Not a duplicate" may overrule a name + zip match, never an address: one contact per e-mail.
                same_email = await find_duplicate(session, address, "email")
                if same_email is not None:
                    inquiry.contact_id = same_email.contact_id
                    return AddressResult(contact_id=same_email.contact_id)
            prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
            contact = await create_contact(
                session,
                address,
                source=f"inquiry:{inquiry.source}",
                owner_user_id=prop.manager_user_id if prop else None,
            )
            inquiry.contact_id = contact.id
            return AddressResult(contact_id=contact.id)

    @staticmethod
    async def _address(session: AsyncSession, inquiry: Inquiry, submission_id: int | None) -> ProspectAddress:
        data: dict[str, object] = {**inquiry.prospect, "email": inquiry.email}
        if submission_id is not None:
            raw = await session.get(RawPayload, submission_id)
            if raw is None:
                raise ApplicationError(f"submission {submission_id} missing", non_retryable=True)
            data.update(json.loads(raw.body))
            data["email"] = inquiry.email  # the confirmed address is the one the link was mailed to
        if not data.get("last_name"):  # portals may send only an address; the record needs a name to show
            data["last_name"] = inquiry.email.partition("@")[0]
        known = set(ProspectAddress.model_fields)
        try:
            return ProspectAddress.model_validate({k: v for k, v in data.items() if k in known})
        except ValidationError as exc:
            raise ApplicationError(
                f"address data incomplete: {reason(exc)}", type="InvalidAddress", non_retryable=True
            ) from exc

    @activity.defn(name="create_inquiry_task")
    async def create_inquiry_task(self, request: TaskRequest) -> int:
        async with self._sessions.begin() as session:
            await _record_steps(session, request.steps)
            inquiry = await _inquiry(session, request.inquiry_id)
            prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
            ref = prop.external_ref if prop else inquiry.property_ref
            if request.kind == "duplicate":
                title = f"Dublette prüfen: Anfrage zu {ref}"
                body = (
                    f"Die Anfrage #{inquiry.id} ({inquiry.email}) passt zu Kontakt #{request.duplicate_contact_id}. "
                    "Die Automatisierung wurde angehalten: bitte prüfen und ggf. im Dashboard fortsetzen."
                )
            else:
                title = f"Keine Reaktion auf Anfrage zu {ref}"
                body = (
                    f"{inquiry.email} hat nach {request.attempts} Erinnerung(en) nicht bestätigt. "
                    "Die Automatisierung ist beendet."
                )
            task = await create_task_once(
                session,
                idempotency_key=request.idempotency_key,
                title=title,
                body=body,
                assignee_user_id=prop.manager_user_id if prop else None,
                contact_id=request.duplicate_contact_id,
                property_id=inquiry.property_id,
                inquiry_id=inquiry.id,
            )
            return task.id

    @activity.defn(name="find_stop_activity")
    async def find_stop_activity(self, check: StopCheck) -> StopFound | None:
        await self._record(check.steps)
        async with self._sessions() as session:
            inquiry = await _inquiry(session, check.inquiry_id)
            # A reply by e-mail is always a reaction, whatever the settings list (issue 15).
            kinds = [*check.kinds, ActivityKind.REPLY.value]
            found = await latest_stop_activity(session, inquiry, kinds, check.since)
            return None if found is None else StopFound(kind=found.kind, occurred_at=found.occurred_at)

    @activity.defn(name="compose_inquiry_mail")
    async def compose_inquiry_mail(self, request: MailRequest) -> int:
        return await self._mail.compose(request)


def _complete(contact: Contact, address: ProspectAddress) -> None:
    """Fill in what the prospect confirmed and the automation's contact does not have yet."""
    for field in ("salutation", "first_name", "last_name", "phone", "street", "zip_code", "city"):
        value = getattr(address, field, None)
        if value and not getattr(contact, field, None):
            setattr(contact, field, value)
