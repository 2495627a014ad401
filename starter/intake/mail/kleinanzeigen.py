"""Kleinanzeigen (formerly eBay Kleinanzeigen): a message through the platform's relay address.

The prospect's own address is not in the mail: answers go to the relay address in Reply-To, which
reaches the prospect. That relay address is therefore the inquiry's email. The office's property number
is read from the ad title, where offices put it ("… (Obj.-Nr. W-1001)").
"""

from __future__ import annotations

import re

from starter.intake.mail.fields import PERSON_FIELDS, read_fields, to_payload
from starter.intake.mail.message import MailView
from starter.intake.payload import InquiryPayload, validate_payload

NAME = "kleinanzeigen"
SOURCE = "kleinanzeigen"
_DOMAINS = ("kleinanzeigen.de", "ebay-kleinanzeigen.de")
_AD_NUMBER = re.compile(r"Anzeigen(?:-?nr|nummer)\.?:?\s*(\d+)", re.IGNORECASE)
_OBJECT_REF = re.compile(r"Obj(?:ekt)?\.?\s*-?\s*Nr\.?:?\s*([A-Za-z0-9][\w-]{0,40})", re.IGNORECASE)
_MESSAGE = re.compile(
    r"Nachricht von (?P<name>[^\n:]{1,80}?) erhalten\s*:\s*\n(?P<text>.+?)(?:\n\s*Antworten\b|\n-- ?\n|\Z)", re.S
)


def parse(mail: MailView, *, mailbox: str, time_zone: str) -> InquiryPayload | None:
    if not any(s.endswith(_DOMAINS) for s in mail.senders):
        return None
    haystack = f"{mail.subject}\n{mail.text}"
    values = read_fields(mail.text, PERSON_FIELDS)
    email = mail.reply_to if mail.reply_to and mail.reply_to.endswith(_DOMAINS) else values.get("email")
    if not email:
        return None
    values["email"] = email
    message = _MESSAGE.search(mail.text)
    if message is not None:
        if "name" not in values and "last_name" not in values:
            values["name"] = message.group("name").strip()
        values.setdefault("message", message.group("text").strip())
    ad = _AD_NUMBER.search(haystack)
    ref = _OBJECT_REF.search(haystack)
    if ref:
        values["property_ref"] = ref.group(1)
    external_id = f"{ad.group(1)}-{(mail.message_id or '').strip('<>')}" if ad else None
    data = to_payload(values, mail, source=SOURCE, external_id=external_id)
    data["mailbox"] = mailbox
    return validate_payload(data, time_zone=time_zone)
