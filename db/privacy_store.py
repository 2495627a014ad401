"""Art. 15 export and Art. 17 erasure of one contact, in the database (Temporal's part: starter/privacy_service).

Erasure anonymises rather than deletes: the rows keep their IDs and dates (statistics, the journal of
other people, bookkeeping), but every field that names, addresses or reaches the person is overwritten,
message bodies and their attachments are removed, and a final sweep looks for the person's name, e-mail
address and phone number in every text and JSON column of the tables that can hold them (event payloads,
raw submissions, automation facts), so nothing is missed because it was copied somewhere else.
Records a legal duty requires (consent proof owed for a contract) are flagged `legal_hold` and kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Table, Text, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from db.base import utcnow
from db.models import (
    Activity,
    Appointment,
    AutomationRun,
    ConsentRecord,
    Contact,
    Deal,
    DomainEvent,
    Inquiry,
    InquiryStatus,
    InquiryStep,
    Lead,
    Message,
    Note,
    Objection,
    PrivacyAudit,
    Property,
    QuarantinedPayload,
    RawPayload,
    SlotRequest,
    Task,
)
from domain.addresses import email_hash

ERASED = "[gelöscht]"
# Tables a person's data can be copied into; users and properties belong to the office, not the prospect.
SWEPT: tuple[type[DeclarativeBase], ...] = (
    Activity,
    Appointment,
    AutomationRun,
    ConsentRecord,
    Contact,
    DomainEvent,
    Inquiry,
    InquiryStep,
    Message,
    Note,
    QuarantinedPayload,
    RawPayload,
    SlotRequest,
    Task,
)


def _row(obj: Any) -> dict[str, Any]:
    mapper = inspect(type(obj))
    return {c.key: _plain(getattr(obj, c.key)) for c in mapper.column_attrs}


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass
class ContactData:
    contact: Contact
    emails: set[str]
    inquiries: list[Inquiry]


async def _load(session: AsyncSession, contact_id: int) -> ContactData | None:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return None
    emails = {contact.email.lower()} if contact.email else set()
    inquiries = list(
        await session.scalars(
            select(Inquiry).where(
                (Inquiry.contact_id == contact_id)
                | (Inquiry.duplicate_contact_id == contact_id)
                | (Inquiry.email.in_(emails) if emails else False)
            )
        )
    )
    emails |= {i.email.lower() for i in inquiries if i.email and "@" in i.email}
    return ContactData(contact, emails, inquiries)


async def export_contact(session: AsyncSession, contact_id: int) -> dict[str, Any] | None:
    """Everything stored about the contact (Art. 15 DSGVO), as plain JSON-ready data."""
    data = await _load(session, contact_id)
    if data is None:
        return None
    inquiry_ids = [i.id for i in data.inquiries]

    async def rows(model: Any, *conditions: Any) -> list[dict[str, Any]]:
        result = await session.scalars(select(model).where(*conditions).order_by(model.id))
        return [_row(r) for r in result]

    hashes = [email_hash(e) for e in data.emails]
    by_contact_or_inquiry = (Message.contact_id == contact_id) | (
        Message.inquiry_id.in_(inquiry_ids) if inquiry_ids else False
    )
    return {
        "contact": _row(data.contact),
        "inquiries": [_row(i) for i in data.inquiries],
        "inquiry_steps": await rows(InquiryStep, InquiryStep.inquiry_id.in_(inquiry_ids)) if inquiry_ids else [],
        "messages": await rows(Message, by_contact_or_inquiry),
        "consent_records": await rows(
            ConsentRecord, (ConsentRecord.contact_id == contact_id) | ConsentRecord.email_hash.in_(hashes)
        ),
        "objections": await rows(Objection, (Objection.contact_id == contact_id) | Objection.email_hash.in_(hashes)),
        "activities": await rows(Activity, Activity.contact_id == contact_id),
        "notes": await rows(Note, Note.contact_id == contact_id),
        "tasks": await rows(Task, Task.contact_id == contact_id),
        "appointments": await rows(Appointment, Appointment.contact_id == contact_id),
        "deals": await rows(Deal, Deal.contact_id == contact_id),
        "leads": await rows(Lead, Lead.contact_id == contact_id),
        "slot_requests": await rows(SlotRequest, SlotRequest.contact_id == contact_id),
        "privacy_audit": await rows(PrivacyAudit, PrivacyAudit.contact_id == contact_id),
    }


@dataclass
class ErasureResult:
    contact_id: int
    workflow_ids: list[str] = field(default_factory=list)
    files_deleted: int = 0
    rows_swept: int = 0
    kept_for_legal_duty: int = 0


def _delete_files(attachments: list[dict[str, Any]], data_dir: Path, shared: set[str | None]) -> int:
    deleted = 0
    root = data_dir.resolve()
    for attachment in attachments:
        relative = str(attachment.get("path", ""))
        path = (data_dir / relative).resolve()
        if relative and relative not in shared and path.is_relative_to(root) and path.exists():
            path.unlink()
            deleted += 1
    return deleted


def _needles(contact: Contact, emails: set[str], inquiries: list[Inquiry]) -> list[str]:
    names = {contact.display_name, contact.last_name, contact.phone, contact.mobile, contact.street}
    for inquiry in inquiries:
        p = inquiry.prospect
        names |= {
            p.get("phone"),
            p.get("last_name"),
            " ".join(x for x in (p.get("first_name"), p.get("last_name")) if x),
        }
    values = {str(v).strip() for v in names if v and str(v).strip() and str(v).strip() != ERASED}
    # Short fragments ("Li", "12") would erase other people's words; a name of 3 letters or more is kept in.
    return sorted({*emails, *(v for v in values if len(v) >= 3)}, key=len, reverse=True)


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, pattern) for k, v in value.items()}
    return value


async def erase_contact(session: AsyncSession, contact_id: int, data_dir: Path) -> ErasureResult | None:
    """Anonymise the contact everywhere (Art. 17 DSGVO). Returns the workflows Temporal must end. Caller commits."""
    data = await _load(session, contact_id)
    if data is None:
        return None
    contact, inquiries = data.contact, data.inquiries
    result = ErasureResult(contact_id=contact_id)
    pattern = re.compile("|".join(re.escape(n) for n in _needles(contact, data.emails, inquiries)), re.IGNORECASE)
    inquiry_ids = [i.id for i in inquiries]
    now = utcnow()

    final = {
        InquiryStatus.COMPLETED,
        InquiryStatus.EXPIRED,
        InquiryStatus.CANCELLED,
        InquiryStatus.FAILED,
        InquiryStatus.IGNORED,
        InquiryStatus.SKIPPED,
        InquiryStatus.ABORTED,
    }
    result.workflow_ids += [i.workflow_id for i in inquiries if i.status not in final]
    for lead in await session.scalars(select(Lead).where(Lead.contact_id == contact_id, Lead.status == "open")):
        result.workflow_ids.append(f"lead-{lead.id}")
    slot_rows = list(await session.scalars(select(SlotRequest).where(SlotRequest.contact_id == contact_id)))
    result.workflow_ids += [
        s.workflow_id for s in slot_rows if s.workflow_id and s.status in ("created", "waiting", "answered")
    ]

    # Files that belong to this person's mails (calendar invitations, Widerruf PDFs), not shared exposés.
    shared = set(await session.scalars(select(Property.expose_file).where(Property.expose_file.is_not(None))))
    messages = list(
        await session.scalars(
            select(Message).where(
                (Message.contact_id == contact_id) | (Message.inquiry_id.in_(inquiry_ids) if inquiry_ids else False)
            )
        )
    )
    for message in messages:
        result.files_deleted += _delete_files(message.attachments, data_dir, shared)
        message.body_text = ERASED
        message.body_html = None
        message.subject = ERASED
        message.recipient = f"geloescht-{contact_id}@invalid"
        message.attachments = []

    raw_ids = {i.raw_payload_id for i in inquiries if i.raw_payload_id}
    raw_ids |= {s.submission_id for s in slot_rows if s.submission_id}
    for inquiry in inquiries:
        inquiry.prospect = {}
        inquiry.email = f"geloescht-{contact_id}@invalid"
        inquiry.message = None
    for slot in slot_rows:
        slot.comment = None

    consents = list(await session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact_id)))
    hashes = [email_hash(e) for e in data.emails]
    if hashes:
        consents += list(await session.scalars(select(ConsentRecord).where(ConsentRecord.email_hash.in_(hashes))))
    for consent in {c.id: c for c in consents}.values():
        if consent.raw_payload_id:
            raw_ids.add(consent.raw_payload_id)
        if consent.legal_hold:
            result.kept_for_legal_duty += 1
            continue
        consent.email = None
        consent.ip = consent.user_agent = consent.confirm_ip = consent.confirm_user_agent = None
        consent.confirm_token = None
    if raw_ids:
        await session.execute(update(RawPayload).where(RawPayload.id.in_(raw_ids)).values(body="{}", remote_addr=None))

    for activity_row in await session.scalars(select(Activity).where(Activity.contact_id == contact_id)):
        activity_row.text = ERASED
    for note in await session.scalars(select(Note).where(Note.contact_id == contact_id)):
        note.text = ERASED

    contact.salutation = None
    contact.first_name = None
    contact.last_name = ERASED
    contact.email = None
    contact.phone = contact.mobile = contact.street = contact.zip_code = contact.city = None
    contact.birthday = None
    contact.newsletter = False
    contact.status = "archived"
    contact.erased_at = now
    await session.flush()
    result.rows_swept = await sweep(session, pattern)
    return result


async def sweep(session: AsyncSession, pattern: re.Pattern[str]) -> int:
    """Overwrite every remaining occurrence of the person's data in the text and JSON columns of SWEPT."""
    changed = 0
    for model in SWEPT:
        table: Table = model.__table__  # type: ignore[assignment]
        columns = [
            c for c in table.columns if isinstance(c.type, String | Text | JSON) or "JSON" in type(c.type).__name__
        ]
        primary = list(table.primary_key)
        if not columns or len(primary) != 1:
            continue
        rows = await session.execute(select(primary[0], *columns))
        for row in rows:
            values: dict[str, Any] = {}
            for column, value in zip(columns, row[1:], strict=True):
                text = (
                    value
                    if isinstance(value, str)
                    else json.dumps(value, ensure_ascii=False)
                    if value is not None
                    else ""
                )
                if text and pattern.search(text):
                    if model is RawPayload and column.name == "body":
                        values[column.name] = "{}"  # a raw submission is one person's: all of it goes
                    else:
                        values[column.name] = _scrub(value, pattern)
            if values:
                await session.execute(update(table).where(primary[0] == row[0]).values(**values))
                changed += 1
    return changed


__all__ = ["ERASED", "ContactData", "ErasureResult", "erase_contact", "export_contact", "sweep"]
