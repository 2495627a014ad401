"""Mail classes, the office footer and the outbox's refusal rules (UWG § 7, DSGVO Art. 21).

Every template is `transactional` (the prospect's own inquiry, exposé, appointments, slot answers) or
`advertising` (first mail to a new prospect, birthday mail, other properties). The outbox refuses, at the
moment it would send, an advertising mail without a confirmed consent for the address and any mail to an
address that objected; the row then says `suppressed` and why.
"""

from __future__ import annotations

import html
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.legal_settings import OfficeIdentity
from db.models import ConsentPurpose, ConsentRecord, ConsentStatus, Message, Objection, ObjectionScope
from domain.addresses import address_of, email_hash


class MailClass(StrEnum):
    TRANSACTIONAL = "transactional"
    ADVERTISING = "advertising"


TEMPLATE_CLASSES: dict[str, MailClass] = {
    "inquiry.confirmation": MailClass.TRANSACTIONAL,
    "inquiry.expose": MailClass.TRANSACTIONAL,
    "slots.invitation": MailClass.TRANSACTIONAL,
    "slots.confirmation": MailClass.TRANSACTIONAL,
    "automation.appointment_confirmation": MailClass.TRANSACTIONAL,
    "consent.double_opt_in": MailClass.TRANSACTIONAL,
    "automation.first_email": MailClass.ADVERTISING,
    "automation.birthday": MailClass.ADVERTISING,
}
# Mails to the office itself: no footer, no objection link, never suppressed.
OFFICE_TEMPLATES = frozenset({"inquiry.manager_notice", "slots.response", "slots.sms", "lead.reminder"})


def mail_class_for(template_key: str | None, *, to_contact: bool, to_user: bool) -> MailClass | None:
    """The class of a mail; None for mails to office staff. An office-written template a contact receives
    counts as advertising until it is listed as transactional: the safe side of § 7 UWG."""
    if to_user or template_key in OFFICE_TEMPLATES:
        return None
    if template_key in TEMPLATE_CLASSES:
        return TEMPLATE_CLASSES[template_key]
    if template_key and template_key.startswith("inquiry.followup."):
        return MailClass.TRANSACTIONAL
    return MailClass.ADVERTISING if to_contact else None


async def suppression_reason(session: AsyncSession, message: Message) -> str | None:
    """Why this mail must not go out, or None. Called inside the claim's transaction."""
    if message.channel != "email" or message.mail_class is None:
        return None
    digest = email_hash(address_of(message.recipient))
    objections = list(await session.scalars(select(Objection).where(Objection.email_hash == digest)))
    if any(o.scope == ObjectionScope.ALL for o in objections):
        return "Widerspruch des Empfängers gegen alle E-Mails"
    if message.mail_class == MailClass.ADVERTISING:
        if objections:
            return "Widerspruch des Empfängers gegen Werbung"
        consent = await session.scalar(
            select(ConsentRecord.id).where(
                ConsentRecord.email_hash == digest,
                ConsentRecord.purpose == ConsentPurpose.ADVERTISING,
                ConsentRecord.status == ConsentStatus.CONFIRMED,
            )
        )
        if consent is None:
            return "Werbung ohne bestätigte Einwilligung (Double-Opt-in) nicht gesendet"
    return None


def legal_links(identity: OfficeIdentity, base_url: str) -> tuple[str, str]:
    """Impressum and privacy notice: the office's own pages, or ours showing the office's texts."""
    impressum = str(identity.impressum_url) if identity.impressum_url else f"{base_url}/impressum"
    privacy = str(identity.privacy_url) if identity.privacy_url else f"{base_url}/datenschutz"
    return impressum, privacy


def footer_text(identity: OfficeIdentity, base_url: str, unsubscribe_url: str) -> str:
    impressum, privacy = legal_links(identity, base_url)
    lines = ["", "-- ", identity.name]
    lines += [part for part in (identity.address, identity.phone, identity.email) if part]
    lines += [f"Impressum: {impressum}", f"Datenschutz: {privacy}"]
    lines.append(f"Keine E-Mails mehr von uns erhalten: {unsubscribe_url}")
    return "\n".join(lines) + "\n"


def footer_html(identity: OfficeIdentity, base_url: str, unsubscribe_url: str) -> str:
    """The same footer for the HTML part; the branded layout may place it where its design wants."""
    esc = html.escape
    impressum, privacy = legal_links(identity, base_url)
    parts = [f"<strong>{esc(identity.name)}</strong>"]
    parts += [esc(p) for p in (identity.address, identity.phone, identity.email) if p]
    links = [
        f'<a href="{esc(impressum)}">Impressum</a>',
        f'<a href="{esc(privacy)}">Datenschutz</a>',
        f'<a href="{esc(unsubscribe_url)}">Keine E-Mails mehr erhalten</a>',
    ]
    return (
        '<footer class="immoflow-office-footer" style="margin-top:2em;font-size:12px;color:#555">'
        + "<br>".join(parts)
        + "<br>"
        + " · ".join(links)
        + "</footer>"
    )
