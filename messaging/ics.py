"""A single-event iCalendar invitation (RFC 5545) for the appointment the agent picked from the proposals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    summary: str
    description: str = ""
    location: str = ""
    organizer_name: str = ""
    organizer_email: str = ""
    attendee_name: str = ""
    attendee_email: str = ""


def _text(value: str) -> str:
    """TEXT escaping: backslash, semicolon, comma and line breaks would otherwise end or split a property."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _param(value: str) -> str:
    """A parameter value (CN=…) in quotes; quotes and control characters cannot be escaped, so they go."""
    cleaned = "".join(c for c in value if c not in '"\r\n' and (c >= " " or c == "\t"))
    return f'"{cleaned}"'


def _address(value: str) -> str:
    return "".join(c for c in value if c > " " and c not in '"<>;:,')


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after CRLF + space, never inside a character."""
    parts: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode()
        limit = 75 if not parts else 74  # continuation lines start with the space
        if len(current) + len(encoded) > limit:
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def calendar(event: CalendarEvent) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//immoflow//time slots//DE",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{_text(event.uid)}",
        f"DTSTAMP:{_stamp(event.created_at)}",
        f"DTSTART:{_stamp(event.starts_at)}",
        f"DTEND:{_stamp(event.ends_at)}",
        f"SUMMARY:{_text(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{_text(event.description)}")
    if event.location:
        lines.append(f"LOCATION:{_text(event.location)}")
    if event.organizer_email:
        lines.append(f"ORGANIZER;CN={_param(event.organizer_name)}:mailto:{_address(event.organizer_email)}")
    if event.attendee_email:
        lines.append(
            f"ATTENDEE;CN={_param(event.attendee_name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:"
            f"mailto:{_address(event.attendee_email)}"
        )
    lines += ["STATUS:CONFIRMED", "SEQUENCE:0", "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
