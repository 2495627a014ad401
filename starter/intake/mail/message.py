"""A received mail as the parsers see it: decoded headers, one text body, attachments, forwards unwrapped.

The stdlib's `email` package (policy.default) does the MIME work: quoted-printable, base64, RFC 2047
headers, multipart/alternative. What it leaves to us: mails that say ISO-8859-1 but are Windows-1252
(Outlook's classic), HTML-only mails (the text is extracted), and forwards (the original is looked at).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

# What browsers do (WHATWG Encoding): these labels are decoded as Windows-1252, a superset for text.
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252"}
_FORWARD_MARKERS = re.compile(
    r"^-{2,}\s*(?:Forwarded message|Weitergeleitete Nachricht|Original-Nachricht|Ursprüngliche Nachricht)\s*-*\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_FROM = re.compile(r"^(?:From|Von)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_BLOCK_TAGS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "section"})
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "td":
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def part_text(part: Message) -> str:
    """The decoded text of one part, with ISO-8859-1 read as Windows-1252 and unknown charsets replaced."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = _CHARSET_ALIASES.get(charset, charset)
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def message_ids(value: str | None) -> list[str]:
    return _MESSAGE_ID.findall(value or "")


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class MailView:
    message: EmailMessage
    subject: str
    sender: str  # the From address, lower-case
    sender_name: str
    reply_to: str | None
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    date: datetime | None
    text: str
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    forwarded_from: str | None = None  # the original sender of a mail an agent forwarded

    def header(self, name: str) -> str | None:
        value = self.message.get(name)
        return None if value is None else str(value)

    @property
    def senders(self) -> list[str]:
        """Whom the mail is from, including the original sender of a forward: portal detection uses both."""
        return [s for s in (self.sender, self.forwarded_from) if s]


def _address(value: object) -> tuple[str, str]:
    name, address = parseaddr(str(value or ""))
    return name, address.lower()


def _body(message: EmailMessage) -> tuple[str, str | None]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    html_text = part_text(html) if html is not None else None
    if plain is not None:
        return part_text(plain), html_text
    return (html_to_text(html_text) if html_text else ""), html_text


def _attachments(message: EmailMessage) -> list[Attachment]:
    found: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition == "attachment" or filename:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                found.append(Attachment(filename, part.get_content_type(), data))
    return found


def _forwarded(message: EmailMessage) -> EmailMessage | None:
    """A forward as attachment (message/rfc822): the original mail inside it."""
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
                return inner[0]
    return None


def read_mail(raw: bytes) -> MailView:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text, html = _body(message)
    attachments = _attachments(message)
    forwarded_from = None
    inner = _forwarded(message)
    if inner is not None:  # forwarded as an attachment: parse the original, keep the outer attachments too
        inner_text, inner_html = _body(inner)
        text = f"{text}\n\n{inner_text}".strip()
        html = inner_html or html
        forwarded_from = _address(inner.get("From"))[1] or None
    else:
        marker = _FORWARD_MARKERS.search(text)
        if marker is not None:
            original = text[marker.end() :]
            match = _FORWARD_FROM.search(original)
            if match:
                addresses = [a for _, a in getaddresses([match.group(1)]) if "@" in a]
                if not addresses:  # "Von: ImmoScout24 <noreply@…>" after a mail client's reformatting
                    found = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", match.group(1))
                    addresses = [found.group(0)] if found else []
                forwarded_from = addresses[0].lower() if addresses else None
            text = original.strip()
    name, sender = _address(message.get("From"))
    reply_to = _address(message.get("Reply-To"))[1] or None
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message.get("Date") else None
    except (TypeError, ValueError):
        date = None
    if date is not None and date.tzinfo is None:
        date = None
    ids = message_ids(str(message.get("Message-ID") or ""))
    return MailView(
        message=message,
        subject=" ".join(str(message.get("Subject") or "").split()),
        sender=sender,
        sender_name=name,
        reply_to=reply_to,
        message_id=ids[0] if ids else None,
        in_reply_to=message_ids(str(message.get("In-Reply-To") or "")),
        references=message_ids(str(message.get("References") or "")),
        date=date,
        text=text.replace("\r\n", "\n"),
        html=html,
        attachments=attachments,
        forwarded_from=forwarded_from,
    )
