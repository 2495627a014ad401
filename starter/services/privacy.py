"""Use cases of the prospect's rights, for the web app, the CLI and the retention workflow's activities.

Consent and objection write their rows and a domain event in one transaction; the dispatcher then starts
the double opt-in mail's workflow (`consent.requested`) or stops the address's running follow-ups and
automation runs (`contact.objected`), so nothing is lost while Temporal is away. Export and erasure write
the audit log.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from db.app_settings import load_section, save_section
from db.base import utcnow
from db.events import ConsentRequested, ContactObjected, record_event
from db.legal_settings import SECTION, LegalSettings, OfficeIdentity
from db.models import (
    AutomationRun,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    Contact,
    DomainEvent,
    Inquiry,
    InquiryStatus,
    Message,
    Objection,
    ObjectionScope,
    PrivacyAudit,
    Property,
    RawPayload,
    RunOutcome,
)
from db.privacy_store import ErasureResult, erase_contact, export_contact
from db.session import SessionFactory
from domain.addresses import address_of, email_hash
from messaging.mail_policy import MailClass, mail_class_for
from messaging.privacy_export import export_pdf
from workflows.automation import AutomationRunWorkflow
from workflows.automation_models import StopRun

if TYPE_CHECKING:
    from starter.services.context import Services

log = logging.getLogger(__name__)

CONSENT_REQUESTED = ConsentRequested.KIND
CONTACT_OBJECTED = ContactObjected.KIND
ERASURE_REASON = "DSGVO Art. 17: Daten des Kontakts gelöscht"
RUNNING_INQUIRY = (InquiryStatus.RECEIVED, InquiryStatus.PROCESSING, InquiryStatus.WAITING_FOR_CONFIRMATION)


@dataclass(frozen=True)
class Origin:
    """Where a declaration came from: the proof a consent or objection record keeps."""

    ip: str | None
    user_agent: str | None
    page: str | None


async def legal_settings(session: AsyncSession) -> LegalSettings:
    return await load_section(session, SECTION, LegalSettings)


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else value


async def record_consent(
    session: AsyncSession,
    *,
    purpose: ConsentPurpose,
    email: str,
    text: str,
    version: str,
    origin: Origin,
    inquiry_id: int | None = None,
    contact_id: int | None = None,
    raw_payload_id: int | None = None,
) -> ConsentRecord:
    """Store a declaration with its proof. Advertising consent starts pending: the double opt-in mail follows."""
    advertising = purpose == ConsentPurpose.ADVERTISING
    record = ConsentRecord(
        purpose=purpose,
        status=ConsentStatus.PENDING if advertising else ConsentStatus.GIVEN,
        email=email.lower(),
        email_hash=email_hash(email),
        contact_id=contact_id,
        inquiry_id=inquiry_id,
        raw_payload_id=raw_payload_id,
        text=text,
        text_version=version,
        page=_clip(origin.page, 300),
        ip=_clip(origin.ip, 64),
        user_agent=_clip(origin.user_agent, 400),
        given_at=utcnow(),
        confirm_token=secrets.token_urlsafe(24) if advertising else None,
        legal_hold=purpose != ConsentPurpose.ADVERTISING,  # proof of the Widerruf steps is owed for the contract
    )
    session.add(record)
    await session.flush()
    if advertising:
        record_event(session, ConsentRequested(consent_id=record.id))
    return record


async def confirm_consent(session: AsyncSession, token: str, origin: Origin) -> ConsentRecord | None:
    """The double opt-in click. Idempotent: a second click finds it confirmed. None: no such link."""
    record = await session.scalar(select(ConsentRecord).where(ConsentRecord.confirm_token == token))
    if record is None:
        return None
    if record.status == ConsentStatus.PENDING:
        record.status = ConsentStatus.CONFIRMED
        record.confirmed_at = utcnow()
        record.confirm_ip = _clip(origin.ip, 64)
        record.confirm_user_agent = _clip(origin.user_agent, 400)
        if record.contact_id is None and record.email:
            contact = await session.scalar(select(Contact).where(Contact.email == record.email))
            record.contact_id = contact.id if contact else None
        if record.contact_id is not None:
            contact = await session.get(Contact, record.contact_id)
            if contact is not None:
                contact.newsletter = True
    return record


async def message_for_token(session: AsyncSession, token: str) -> Message | None:
    return await session.scalar(select(Message).where(Message.unsubscribe_token == token))


async def record_objection(
    session: AsyncSession,
    *,
    email: str,
    scope: ObjectionScope,
    source: str,
    origin: Origin,
    message: Message | None = None,
    contact_id: int | None = None,
    raw_payload_id: int | None = None,
    user_id: int | None = None,
) -> Objection:
    """Record the objection, withdraw advertising consents, and hand the running follow-ups to the dispatcher."""
    digest = email_hash(email)
    if contact_id is None:
        contact_id = message.contact_id if message is not None else None
    if contact_id is None:
        contact_id = await session.scalar(select(Contact.id).where(Contact.email == email.lower()))
    objection = Objection(
        email_hash=digest,
        scope=scope,
        source=source,
        contact_id=contact_id,
        message_id=message.id if message else None,
        raw_payload_id=raw_payload_id,
        ip=_clip(origin.ip, 64),
        user_agent=_clip(origin.user_agent, 400),
        at=utcnow(),
    )
    session.add(objection)
    now = utcnow()
    for consent in await session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.email_hash == digest,
            ConsentRecord.purpose == ConsentPurpose.ADVERTISING,
            ConsentRecord.status.in_([ConsentStatus.PENDING, ConsentStatus.CONFIRMED]),
        )
    ):
        consent.status = ConsentStatus.WITHDRAWN
        consent.withdrawn_at = now
        consent.withdrawn_reason = "Widerspruch"
    if contact_id is not None:
        objector = await session.get(Contact, contact_id)
        if objector is not None:
            objector.newsletter = False
    await session.flush()
    # Reminders about the person's own inquiry are transactional: only an objection to everything stops them.
    running = (
        list(
            await session.scalars(
                select(Inquiry.workflow_id).where(Inquiry.email == email.lower(), Inquiry.status.in_(RUNNING_INQUIRY))
            )
        )
        if scope == ObjectionScope.ALL
        else []
    )
    session.add(
        PrivacyAudit(action="objection", contact_id=contact_id, user_id=user_id, at=now, detail={"scope": scope})
    )
    record_event(session, ContactObjected(objection_id=objection.id, scope=str(scope), inquiry_workflow_ids=running))
    return objection


def objection_reason(scope: str) -> str:
    what = "alle E-Mails" if scope == ObjectionScope.ALL else "Werbung"
    return f"Widerspruch des Interessenten gegen {what}"


async def stop_inquiries(client: Client, workflow_ids: list[str], reason: str) -> None:
    """Cancel each running inquiry with the reason; one that ended meanwhile is fine."""
    from temporalio.client import WorkflowUpdateFailedError

    from starter.temporal.inquiries import inquiry_handle
    from workflows.inquiry import InquiryWorkflow
    from workflows.inquiry_models import CancelInput

    for workflow_id in workflow_ids:
        try:
            await inquiry_handle(client, workflow_id).execute_update(InquiryWorkflow.cancel, CancelInput(reason=reason))
        except WorkflowUpdateFailedError as exc:  # already finished: nothing left to stop
            log.info("inquiry %s not cancelled: %s", workflow_id, exc.cause)
        except RPCError as exc:
            if "not found" not in str(exc).lower() and "completed" not in str(exc).lower():
                raise


async def automation_runs_to_stop(session: AsyncSession, objection: Objection) -> list[AutomationRun]:
    """The objector's running automation runs, by the run rows: the contact or address in the run's facts
    or in its event. An objection to advertising stops only the runs that still have an advertising mail
    to the contact ahead; one to everything stops them all."""
    # Runs last seconds to minutes, so the running ones are few: matching them here keeps the JSON of the
    # facts out of dialect-specific SQL.
    running = list(
        await session.scalars(
            select(AutomationRun)
            .where(AutomationRun.outcome == RunOutcome.RUNNING, AutomationRun.workflow_id.is_not(None))
            .order_by(AutomationRun.id)
        )
    )
    events = {
        e.id: e
        for e in await session.scalars(select(DomainEvent).where(DomainEvent.id.in_([r.event_id for r in running])))
    }
    chosen: list[AutomationRun] = []
    for run in running:
        event = events.get(run.event_id)
        if not _concerns(objection, run.facts, event.payload if event is not None else {}):
            continue
        if objection.scope == ObjectionScope.ALL or _advertising_ahead(run):
            chosen.append(run)
    return chosen


def _concerns(objection: Objection, facts: dict[str, Any], payload: dict[str, Any]) -> bool:
    for source in (facts, payload):
        contact_id, email = source.get("contact_id"), source.get("email")
        if objection.contact_id is not None and contact_id is not None and str(contact_id) == str(objection.contact_id):
            return True
        if isinstance(email, str) and email and email_hash(email) == objection.email_hash:
            return True
    return False


def _advertising_ahead(run: AutomationRun) -> bool:
    done = {step["index"] for step in run.steps if step.get("status") == "done"}
    for index, spec in enumerate(run.actions):
        params = dict(spec.get("params") or {})
        to_contact = params.get("to", "contact") == "contact"
        if index in done or spec.get("kind") != "send_email" or not to_contact:
            continue
        if mail_class_for(str(params.get("template_key", "")), to_contact=True, to_user=False) == MailClass.ADVERTISING:
            return True
    return False


async def stop_automation_runs(
    client: Client, session: AsyncSession, runs: list[AutomationRun], reason: str, *, objection_id: int | None = None
) -> list[str]:
    """Ask each run's workflow to stop with the reason; the workflow IDs that accepted. A run whose workflow
    is gone (terminated) is closed on its row; one that is finishing or on an old build runs to its end."""
    stopped: list[str] = []
    for run in runs:
        workflow_id = str(run.workflow_id)
        try:
            await client.get_workflow_handle(workflow_id).execute_update(
                AutomationRunWorkflow.stop, StopRun(reason=reason, objection_id=objection_id)
            )
        except WorkflowUpdateFailedError as exc:  # refused by the validator: finishing, stopping, old build
            log.info("automation run %s not stopped: %s", workflow_id, exc.cause)
            continue
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # The workflow no longer runs (terminated, or its history expired): the row would say "running"
            # forever; a run that finished meanwhile has its own outcome and is left alone.
            await session.execute(
                update(AutomationRun)
                .where(AutomationRun.id == run.id, AutomationRun.outcome == RunOutcome.RUNNING)
                .values(
                    outcome=RunOutcome.STOPPED,
                    finished_at=utcnow(),
                    error=reason,
                    error_detail=f"workflow {workflow_id} not found: row closed by the objection handler",
                )
            )
            continue
        stopped.append(workflow_id)
    return stopped


async def export_data(
    sessions: SessionFactory, contact_id: int, *, user_id: int | None, form: str
) -> dict[str, Any] | None:
    async with sessions.begin() as session:
        data = await export_contact(session, contact_id)
        if data is not None:
            session.add(
                PrivacyAudit(
                    action="export", contact_id=contact_id, user_id=user_id, at=utcnow(), detail={"format": form}
                )
            )
    return data


async def export_pdf_document(
    sessions: SessionFactory, contact_id: int, *, user_id: int | None, time_zone: str
) -> bytes | None:
    """The Art. 15 export as a readable PDF (audited as format `pdf`); None: no such contact."""
    data = await export_data(sessions, contact_id, user_id=user_id, form="pdf")
    if data is None:
        return None
    async with sessions() as session:
        office = (await legal_settings(session)).identity
    now = utcnow().astimezone(ZoneInfo(time_zone))
    return export_pdf(data, contact_id=contact_id, office_name=office.name, created_at=now)


async def erase(
    sessions: SessionFactory, client: Client | None, contact_id: int, *, user_id: int | None, data_dir: Any, origin: str
) -> ErasureResult | None:
    """Anonymise the contact in the database, then end its running workflows (IDs only reach Temporal)."""
    async with sessions.begin() as session:
        result = await erase_contact(session, contact_id, data_dir)
        if result is None:
            return None
        session.add(
            PrivacyAudit(
                action="erase",
                contact_id=contact_id,
                user_id=user_id,
                at=utcnow(),
                detail={
                    "origin": origin,
                    "workflows": result.workflow_ids,
                    "files_deleted": result.files_deleted,
                    "rows_swept": result.rows_swept,
                    "kept_for_legal_duty": result.kept_for_legal_duty,
                },
            )
        )
    if client is not None:
        await end_workflows(client, result.workflow_ids)
    return result


async def end_workflows(client: Client, workflow_ids: list[str]) -> None:
    for workflow_id in workflow_ids:
        try:
            await client.get_workflow_handle(workflow_id).terminate(reason=ERASURE_REASON)
        except RPCError as exc:  # ended on its own meanwhile
            log.info("workflow %s not terminated: %s", workflow_id, exc)


async def audit_log(session: AsyncSession, contact_id: int) -> list[PrivacyAudit]:
    rows = await session.scalars(
        select(PrivacyAudit).where(PrivacyAudit.contact_id == contact_id).order_by(PrivacyAudit.id)
    )
    return list(rows)


# --- use cases of the web app (prospect pages and the office's privacy page) ------------------------------


class PrivacyRequestError(Exception):
    """A privacy use case that cannot be carried out; the message is the German reason for the office."""


class ContactMissingError(PrivacyRequestError):
    def __init__(self, contact_id: int) -> None:
        super().__init__(f"Kontakt #{contact_id} existiert nicht")


class PropertyMissingError(PrivacyRequestError):
    def __init__(self, property_id: int) -> None:
        super().__init__(f"Immobilie #{property_id} existiert nicht")


class NoEmailError(PrivacyRequestError):
    def __init__(self) -> None:
        super().__init__("Der Kontakt hat keine E-Mail-Adresse")


class LegalHoldError(PrivacyRequestError):
    """Art. 17 (3) b DSGVO: a legal duty to keep (e.g. § 257 HGB) overrides the request until its date."""

    def __init__(self, until: date) -> None:
        super().__init__(f"Gesetzliche Aufbewahrungspflicht bis {until:%d.%m.%Y}: erst danach löschen")
        self.until = until


@dataclass(frozen=True)
class ErasureOutcome:
    result: ErasureResult
    workflows_ended: list[str]


@dataclass(frozen=True)
class PrivacyOverview:
    """What the office's privacy page lists for one contact: consents and objections (by id or address), audit."""

    consents: list[ConsentRecord]
    objections: list[Objection]
    audit: list[PrivacyAudit]


async def load_legal_settings(services: Services) -> LegalSettings:
    """The office's identity and legal texts (defaults when none are stored)."""
    async with services.sessions() as session:
        return await legal_settings(session)


async def save_legal_settings(services: Services, settings: LegalSettings) -> LegalSettings:
    """Replace the office's identity and legal texts."""
    async with services.sessions.begin() as session:
        await save_section(session, SECTION, settings)
    return settings


async def office_identity(services: Services) -> OfficeIdentity:
    """Who the prospect pages speak for (header, footer, Impressum, privacy notice)."""
    return (await load_legal_settings(services)).identity


async def keep_raw_payload(
    services: Services, *, channel: str, content_type: str | None, body: str, remote_addr: str | None
) -> int:
    """Store an inbound body before anything else looks at it (committed whatever happens next); its id."""
    async with services.sessions.begin() as session:
        raw = RawPayload(channel=channel, content_type=content_type, body=body, remote_addr=remote_addr)
        session.add(raw)
    return raw.id


async def unsubscribe_link_known(services: Services, token: str) -> bool:
    """Whether TOKEN is the unsubscribe link of a mail we sent."""
    async with services.sessions() as session:
        return await message_for_token(session, token) is not None


async def object_by_link(
    services: Services, token: str, *, scope: ObjectionScope, source: str, origin: Origin, raw_payload_id: int
) -> bool:
    """The objection made with a mail's unsubscribe link; False when the link is unknown (nothing stored)."""
    async with services.sessions.begin() as session:
        message = await message_for_token(session, token)
        if message is None:
            return False
        await record_objection(
            session,
            email=address_of(message.recipient),
            scope=scope,
            source=source,
            origin=origin,
            message=message,
            raw_payload_id=raw_payload_id,
        )
    return True


async def confirm_consent_link(services: Services, token: str, origin: Origin) -> str | None:
    """The double opt-in click; the consent's status afterwards, None when the link is unknown."""
    async with services.sessions.begin() as session:
        record = await confirm_consent(session, token, origin)
        return record.status if record else None


async def find_contact(services: Services, contact_id: int) -> Contact:
    """The contact whose privacy is handled; ContactMissingError when there is none."""
    async with services.sessions() as session:
        contact = await session.get(Contact, contact_id)
    if contact is None:
        raise ContactMissingError(contact_id)
    return contact


async def export_contact_data(services: Services, contact_id: int, *, user_id: int | None, form: str) -> dict[str, Any]:
    """Art. 15: everything stored about the contact (audited); ContactMissingError when there is none."""
    data = await export_data(services.sessions, contact_id, user_id=user_id, form=form)
    if data is None:
        raise ContactMissingError(contact_id)
    return data


async def export_contact_pdf(services: Services, contact_id: int, *, user_id: int | None) -> bytes:
    """Art. 15 as a readable PDF (audited as format `pdf`); ContactMissingError when there is none."""
    document = await export_pdf_document(
        services.sessions, contact_id, user_id=user_id, time_zone=services.settings.time_zone
    )
    if document is None:
        raise ContactMissingError(contact_id)
    return document


async def erase_contact_data(
    services: Services, contact_id: int, *, user_id: int | None, origin: str, force: bool = False
) -> ErasureOutcome:
    """Art. 17: anonymise the contact and end its workflows, unless a legal duty to keep holds (FORCE overrides).

    Without Temporal the rows are anonymised anyway; the retention scan ends the workflows later.
    """
    contact = await find_contact(services, contact_id)
    today = datetime.now(ZoneInfo(services.settings.time_zone)).date()
    held = (
        contact.retention_reason == "legal_duty" and contact.retain_until is not None and contact.retain_until >= today
    )
    if held and not force and contact.retain_until is not None:
        raise LegalHoldError(contact.retain_until)
    try:
        client: Client | None = await services.temporal()
    except RuntimeError:
        client = None
    result = await erase(
        services.sessions, client, contact_id, user_id=user_id, data_dir=services.settings.data_dir, origin=origin
    )
    if result is None:
        raise ContactMissingError(contact_id)
    return ErasureOutcome(result=result, workflows_ended=result.workflow_ids if client else [])


async def request_office_consent(
    services: Services, contact_id: int, *, user_id: int | None, note: str
) -> ConsentRecord:
    """A wish for offers that reached the office another way: recorded, then asked by double opt-in mail."""
    async with services.sessions.begin() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise ContactMissingError(contact_id)
        if not contact.email:
            raise NoEmailError()
        legal = await legal_settings(session)
        who = f"Benutzer #{user_id}" if user_id else "API"
        return await record_consent(
            session,
            purpose=ConsentPurpose.ADVERTISING,
            email=contact.email,
            text=legal.consent_text,
            version=legal.consent_version,
            origin=Origin(ip=None, user_agent=None, page=f"Büro ({who}) {note}".strip()),
            contact_id=contact.id,
        )


async def record_office_objection(
    services: Services, contact_id: int, *, scope: ObjectionScope, user_id: int | None
) -> int:
    """An objection that reached the office by phone or letter, recorded like the one-click one; its id."""
    async with services.sessions.begin() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise ContactMissingError(contact_id)
        if not contact.email:
            raise NoEmailError()
        objection = await record_objection(
            session,
            email=contact.email,
            scope=scope,
            source="office",
            origin=Origin(ip=None, user_agent=None, page=None),
            contact_id=contact.id,
            user_id=user_id,
        )
        return objection.id


async def set_property_widerruf(services: Services, property_id: int, mode: str | None) -> None:
    """Whether this property's exposé starts a broker contract with a right of withdrawal (None: the office's)."""
    async with services.sessions.begin() as session:
        prop = await session.get(Property, property_id)
        if prop is None:
            raise PropertyMissingError(property_id)
        prop.widerruf_mode = mode


async def set_contact_retention(
    services: Services, contact_id: int, *, retain_until: date | None, reason: str | None
) -> None:
    """Until when (and why) the contact's data is kept."""
    async with services.sessions.begin() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise ContactMissingError(contact_id)
        contact.retain_until = retain_until
        contact.retention_reason = reason


async def privacy_overview(services: Services, contact: Contact) -> PrivacyOverview:
    """The contact's consents and objections (also those recorded under the address only) and the audit log."""
    async with services.sessions() as session:
        hashes = [email_hash(contact.email)] if contact.email else []
        consents = list(
            await session.scalars(
                select(ConsentRecord)
                .where((ConsentRecord.contact_id == contact.id) | ConsentRecord.email_hash.in_(hashes))
                .order_by(ConsentRecord.id)
            )
        )
        objections = list(
            await session.scalars(
                select(Objection)
                .where((Objection.contact_id == contact.id) | Objection.email_hash.in_(hashes))
                .order_by(Objection.id)
            )
        )
        audit = await audit_log(session, contact.id)
    return PrivacyOverview(consents=consents, objections=objections, audit=audit)
