"""ImmoScout24 contact requests ("Kontaktanfrage"): a labelled block, the Scout-ID and the office's number."""

from __future__ import annotations

import re

from starter.intake.mail.fields import PERSON_FIELDS, Field, read_fields, to_payload
from starter.intake.mail.message import MailView
from starter.intake.payload import InquiryPayload, validate_payload

NAME = "immoscout24"
SOURCE = "immoscout24"
_DOMAINS = ("immobilienscout24.de", "immoscout24.de", "scout24.com")
FIELDS = (
    *PERSON_FIELDS,
    Field("property_ref", ("Ihre Objektnummer", "Objektnummer", "Objekt-Nr", "Anbieter-Objekt-ID", "Ihre Objekt-ID")),
    Field("external_id", ("Anfrage-ID", "Kontaktanfrage-ID", "Anfragenummer")),
    Field("ignore", ("Scout-ID", "Objekt", "Titel")),
)
_SCOUT_ID = re.compile(r"Scout-ID:?\s*(\d+)", re.IGNORECASE)


def recognises(mail: MailView) -> bool:
    return any(s.endswith(_DOMAINS) for s in mail.senders) or "immobilienscout24" in mail.text.lower()[:2000]


def parse(mail: MailView, *, mailbox: str, time_zone: str) -> InquiryPayload | None:
    if not recognises(mail):
        return None
    values = read_fields(mail.text, FIELDS)
    if "email" not in values and "name" not in values and "last_name" not in values:
        return None
    external_id = values.pop("external_id", None)
    if external_id is None:
        scout = _SCOUT_ID.search(mail.text)
        if scout and mail.message_id:  # one prospect per Scout-ID and mail: the Message-ID keeps them apart
            external_id = f"{scout.group(1)}-{mail.message_id.strip('<>')}"
    data = to_payload(values, mail, source=SOURCE, external_id=external_id)
    data["mailbox"] = mailbox
    return validate_payload(data, time_zone=time_zone)
