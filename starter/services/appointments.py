"""The appointments calendar ("Termine"): the appointments that overlap a period, with who and what they are about.

The page decides the period (a local day or week) and whose calendar; this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from db.models import Appointment, Contact, Property, User
from starter.services.context import Services


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    contact: Contact | None
    property: Property | None
    user: User | None


async def appointments_between(
    services: Services, start: datetime, end: datetime, *, owner: int | None
) -> list[Booked]:
    """Appointments overlapping [START, END), by start; of user OWNER only, or of everyone when None."""
    query = (
        select(Appointment, Contact, Property, User)
        .outerjoin(Contact, Contact.id == Appointment.contact_id)
        .outerjoin(Property, Property.id == Appointment.property_id)
        .outerjoin(User, User.id == Appointment.user_id)
        .where(Appointment.starts_at < end, Appointment.ends_at > start)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    if owner is not None:
        query = query.where(Appointment.user_id == owner)
    async with services.sessions() as session:
        found = (await session.execute(query)).all()
    return [Booked(appointment, contact, prop, user) for appointment, contact, prop, user in found]
