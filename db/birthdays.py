"""The daily birthday scan: which contacts have their birthday on a day, and one `birthday` event each.

A contact born on 29 February is greeted on 28 February in years without one, so nobody is skipped for
three years. The scan may run twice on a day (catch-up after an outage, a manual trigger): the
(contact, year) row makes the second run add nothing.
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import and_, extract, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.events import Birthday, record_event
from db.models import BirthdayGreeting, Contact, ContactStatus


def birthday_dates(day: date) -> list[tuple[int, int]]:
    """(month, day) pairs whose birthdays fall on DAY."""
    dates = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        dates.append((2, 29))
    return dates


async def record_birthdays(session: AsyncSession, day: date) -> tuple[int, int]:
    """Write a `birthday` event for every reachable contact with a birthday on DAY not greeted this year.

    Returns (new events, contacts already greeted this year). Caller commits.
    """
    month, dom = extract("month", Contact.birthday), extract("day", Contact.birthday)
    contacts = list(
        await session.scalars(
            select(Contact.id)
            .where(
                Contact.birthday.is_not(None),
                Contact.email.is_not(None),
                Contact.status != ContactStatus.ARCHIVED,
                or_(*(and_(month == m, dom == d) for m, d in birthday_dates(day))),
            )
            .order_by(Contact.id)
        )
    )
    greeted = set(
        await session.scalars(
            select(BirthdayGreeting.contact_id).where(
                BirthdayGreeting.year == day.year, BirthdayGreeting.contact_id.in_(contacts)
            )
        )
    )
    new = 0
    for contact_id in contacts:
        if contact_id in greeted:
            continue
        try:
            async with session.begin_nested():
                event = record_event(session, Birthday(contact_id=contact_id, year=day.year, day=day))
                await session.flush()
                session.add(BirthdayGreeting(contact_id=contact_id, year=day.year, day=day, event_id=event.id))
                await session.flush()
        except IntegrityError:
            continue  # a concurrent scan greeted this contact a moment ago
        new += 1
    return new, len(contacts) - new
