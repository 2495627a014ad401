"""A single-event iCalendar invitation (RFC 5545) for the appointment the agent picked from the proposals.

Built with the `icalendar` library: it escapes TEXT values, quotes parameters, folds long lines at 75
octets without splitting a character and writes CRLF, which hand-written calendars kept getting wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText


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


def _address(value: str) -> str:
    """A mailto: target: whatever could end the value or add a parameter goes."""
    return "".join(c for c in value if c > " " and c not in '"<>;:,')


def _person(email: str, name: str) -> vCalAddress:
    person = vCalAddress(f"mailto:{_address(email)}")
    if name:
        # Quotes cannot be escaped inside a parameter value; control characters have no place in a name.
        person.params["CN"] = vText("".join(c for c in name if c != '"' and (c >= " " or c == "\t")))
    return person


def calendar(event: CalendarEvent) -> str:
    cal = Calendar()
    cal.add("prodid", "-//immoflow//time slots//DE")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "REQUEST")
    entry = Event()
    entry.add("uid", event.uid)
    # UTC instants: every calendar shows them in its own zone, no VTIMEZONE block needed.
    entry.add("dtstamp", event.created_at.astimezone(UTC))
    entry.add("dtstart", event.starts_at.astimezone(UTC))
    entry.add("dtend", event.ends_at.astimezone(UTC))
    entry.add("summary", event.summary)
    if event.description:
        entry.add("description", event.description)
    if event.location:
        entry.add("location", event.location)
    if event.organizer_email:
        entry.add("organizer", _person(event.organizer_email, event.organizer_name))
    if event.attendee_email:
        attendee = _person(event.attendee_email, event.attendee_name)
        attendee.params.update({"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"})
        entry.add("attendee", attendee)
    entry.add("status", "CONFIRMED")
    entry.add("sequence", 0)
    cal.add_component(entry)
    ical: bytes = cal.to_ical()
    return ical.decode()
