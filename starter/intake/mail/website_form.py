"""The office's own website form: a mail with "Name:", "E-Mail:", "Telefon:", "Nachricht:" lines."""

from __future__ import annotations

from starter.intake.mail.fields import PERSON_FIELDS, Field, read_fields, to_payload
from starter.intake.mail.message import MailView
from starter.intake.payload import InquiryPayload, validate_payload

NAME = "website"
SOURCE = "website"
FIELDS = (
    *PERSON_FIELDS,
    Field("property_ref", ("Objekt", "Objektnummer", "Objekt-Nr", "Immobilie", "Referenz")),
)


def parse(mail: MailView, *, mailbox: str, time_zone: str) -> InquiryPayload | None:
    values = read_fields(mail.text, FIELDS)
    # A form mail names the person and how to reach them; an ordinary mail that mentions "Name:" does not.
    if "email" not in values or not ({"name", "last_name"} & values.keys()):
        return None
    data = to_payload(values, mail, source=SOURCE, external_id=None)
    data["mailbox"] = mailbox
    return validate_payload(data, time_zone=time_zone)
