"""Portal mail parsers, tried in order; the first that recognises a mail makes the inquiry of it.

Each parser returns None for a mail it does not recognise and raises PayloadError for one it
recognises but cannot use (no email address, say): that mail goes to the unrecognised queue with
the reason, and what could be read prefills the agent's form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starter.intake.mail import immoscout24, immowelt, kleinanzeigen, openimmo_attachment, website_form
from starter.intake.mail.message import MailView, read_mail
from starter.intake.payload import InquiryPayload, PayloadError

Parser = Callable[..., InquiryPayload | None]
PARSERS: tuple[tuple[str, Parser], ...] = (
    (openimmo_attachment.NAME, openimmo_attachment.parse),
    (immoscout24.NAME, immoscout24.parse),
    (immowelt.NAME, immowelt.parse),
    (kleinanzeigen.NAME, kleinanzeigen.parse),
    (website_form.NAME, website_form.parse),
)


@dataclass(frozen=True)
class ParseOutcome:
    parser: str | None
    payload: InquiryPayload | None
    problem: str | None  # why a recognised mail could not become an inquiry


def parse_mail(mail: MailView, *, mailbox: str, time_zone: str) -> ParseOutcome:
    for name, parser in PARSERS:
        try:
            payload = parser(mail, mailbox=mailbox, time_zone=time_zone)
        except PayloadError as exc:
            return ParseOutcome(name, None, exc.reason)
        if payload is not None:
            return ParseOutcome(name, payload, None)
    return ParseOutcome(None, None, "Kein Parser hat die E-Mail erkannt.")


__all__ = ["PARSERS", "MailView", "ParseOutcome", "parse_mail", "read_mail"]
