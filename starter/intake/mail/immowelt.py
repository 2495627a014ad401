"""Immowelt and Immonet (one company, one format): often HTML-only, a table of "Label: value" rows."""

from __future__ import annotations

from starter.intake.mail.fields import PERSON_FIELDS, Field, read_fields, to_payload
from starter.intake.mail.message import MailView
from starter.intake.payload import InquiryPayload, validate_payload

NAME = "immowelt"
_SOURCES = {"immowelt.de": "immowelt", "immonet.de": "immonet", "immowelt.ag": "immowelt"}
FIELDS = (
    *PERSON_FIELDS,
    Field("property_ref", ("Objekt-Nr", "Objektnummer", "Ihre Objekt-Nr", "Kennung", "Ihre Kennung")),
    Field("external_id", ("Anfrage-Nr", "Anfragenummer", "Anfrage-ID")),
    Field("ignore", ("Objekt", "Online-ID", "Immowelt-ID")),
)


def source_of(mail: MailView) -> str | None:
    for sender in mail.senders:
        for domain, source in _SOURCES.items():
            if sender.endswith(domain):
                return source
    head = mail.text.lower()[:2000]
    return "immonet" if "immonet" in head else "immowelt" if "immowelt" in head else None


def parse(mail: MailView, *, mailbox: str, time_zone: str) -> InquiryPayload | None:
    source = source_of(mail)
    if source is None:
        return None
    values = read_fields(mail.text, FIELDS)
    if "email" not in values:
        return None
    data = to_payload(values, mail, source=source, external_id=values.pop("external_id", None))
    data["mailbox"] = mailbox
    return validate_payload(data, time_zone=time_zone)
