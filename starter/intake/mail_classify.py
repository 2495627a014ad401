"""What kind of mail came in, from its headers alone: a bounce, an auto-reply, or something to read.

Bounces are RFC 3464 delivery-status reports (multipart/report; report-type=delivery-status), and the
non-standard ones flufl.bounce recognises. Auto-replies are marked by RFC 3834 (Auto-Submitted) or by
the headers and subjects mail programs really send (X-Autoreply, Precedence, "Abwesenheitsnotiz").
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import Message

from flufl.bounce import scan_message

from starter.intake.mail.message import MailView, message_ids, part_text

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:Abwesenheitsnotiz|Automatische Antwort|Autom\. Antwort|Out of Office|Auto(?:matic)?[- ]?Reply|"
    r"Abwesend|Ich bin nicht im Büro|Urlaubsbenachrichtigung)\b",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")


def is_bounce(mail: MailView) -> bool:
    message = mail.message
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "") or "").lower()
        if report_type == "delivery-status":
            return True
    if not mail.sender.startswith(_BOUNCE_SENDERS) and not mail.sender_name.lower().startswith("mail delivery"):
        return False
    return bool(scan_message(message))


def _status_blocks(mail: MailView) -> list[Message]:
    """The per-recipient blocks of an RFC 3464 report (the stdlib parses them as header blocks)."""
    blocks: list[Message] = []
    for part in mail.message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(block for block in payload if isinstance(block, Message))
    return blocks


def bounced_recipients(mail: MailView) -> list[str]:
    found = {address.decode("utf-8", "replace").lower() for address in scan_message(mail.message)}
    for block in _status_blocks(mail):
        recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
        if recipient:
            found.add(str(recipient).split(";")[-1].strip().lower())
    return sorted(found)


def bounce_status(mail: MailView) -> str | None:
    """ "5.1.1 (user unknown)": the first recipient's status and diagnostic, for the message row."""
    for block in _status_blocks(mail):
        status = block.get("Status")
        if status:
            diagnostic = str(block.get("Diagnostic-Code") or "").split(";")[-1].strip()
            return f"{status} {diagnostic}".strip()[:500]
    return None


def original_message_ids(mail: MailView) -> list[str]:
    """The Message-ID(s) of the mail that bounced: from the returned message or its headers."""
    ids: list[str] = []
    for part in mail.message.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                ids.extend(message_ids(str(inner[0].get("Message-ID") or "")))
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            headers = message_from_bytes(part_text(part).encode("utf-8", "replace"), policy=policy.default)
            ids.extend(message_ids(str(headers.get("Message-ID") or "")))
    return ids + mail.in_reply_to + mail.references


def is_auto_reply(mail: MailView) -> bool:
    auto_submitted = (mail.header("Auto-Submitted") or "no").strip().lower()
    if auto_submitted != "no":
        return True
    if mail.header("X-Autoreply") or mail.header("X-Autorespond"):
        return True
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return True
    return bool(_AUTO_SUBJECT.match(mail.subject))
