"""Any portal: an OpenImmo-Feedback XML attached to the mail (ImmoScout24, Immowelt and others send it)."""

from __future__ import annotations

from starter.intake.mail.message import MailView
from starter.intake.openimmo import parse_feedback
from starter.intake.payload import InquiryPayload

NAME = "openimmo"


def _is_feedback(filename: str | None, content_type: str, data: bytes) -> bool:
    xml = content_type in ("application/xml", "text/xml") or (filename or "").lower().endswith(".xml")
    return xml and b"openimmo_feedback" in data[:4096]


def parse(mail: MailView, *, mailbox: str, time_zone: str) -> InquiryPayload | None:
    for attachment in mail.attachments:
        if _is_feedback(attachment.filename, attachment.content_type, attachment.data):
            return parse_feedback(attachment.data, mailbox=mailbox, time_zone=time_zone)
    return None
