"""A demo portal mail (`immoflow inquiry submit --demo --via-mail`): an ImmoScout24-style contact request
sent over SMTP to the office mailbox. In `immoflow dev` the SMTP sink delivers it into the local IMAP
server, where the mailbox's watcher picks it up like a real portal mail."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib

from messaging.smtp_connections import smtp_options
from settings import Settings

DEMO_PORTAL_SENDER = "ImmoScout24 <kontaktanfrage@immobilienscout24.de>"


def portal_mail(inquiry: dict[str, Any], *, now: Any) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = DEMO_PORTAL_SENDER
    mail["To"] = inquiry["mailbox"]
    mail["Reply-To"] = inquiry["email"]
    mail["Subject"] = f"Kontaktanfrage für Ihr Objekt {inquiry['property_ref']}"
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(domain="immobilienscout24.de")
    lines = [
        "Guten Tag,",
        "",
        "Sie haben eine neue Kontaktanfrage zu Ihrem Objekt erhalten.",
        "",
        f"Ihre Objektnummer: {inquiry['property_ref']}",
        f"Anfrage-ID: {inquiry['external_id']}",
        "",
        f"Anrede: {inquiry.get('salutation') or ''}",
        f"Vorname: {inquiry.get('first_name') or ''}",
        f"Nachname: {inquiry.get('last_name') or ''}",
        f"E-Mail: {inquiry['email']}",
        f"Telefon: {inquiry.get('phone') or ''}",
        "",
        "Nachricht:",
        str(inquiry.get("message") or ""),
        "",
        "--",
        "Diese E-Mail wurde über ImmoScout24 versendet.",
    ]
    mail.set_content("\n".join(lines), cte="quoted-printable")
    return mail


async def send(settings: Settings, mail: EmailMessage) -> None:
    """Over the configured SMTP server, or the dev stack's sink when none is configured."""
    await aiosmtplib.send(mail, **smtp_options(settings, hostname=settings.smtp_host or "127.0.0.1"))
