"""What every action needs: the run's context, the event's records, people to assign or write to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from automations.triggers import EventData
from db.models import Appointment, Contact, Deal, Property, PropertyContactPerson, User
from messaging.inquiry_mail import salutation_line
from settings import Settings

# Who an action means: the event's contact, a chosen user, or a person of the event's property.
Person = Literal["contact", "user", "property_manager", "property_contact_person"]
PERSON_LABELS: dict[str, str] = {
    "contact": "den Kontakt",
    "user": "einen Benutzer",
    "property_manager": "den Objektbetreuer",
    "property_contact_person": "den Objekt-Ansprechpartner",
}


class ActionError(Exception):
    """The action cannot be done with this event (no contact, unknown user, broken template).

    Not retried: the run ends as failed and the message is what the admin page shows.
    """


@dataclass(frozen=True)
class Addressee:
    name: str
    email: str
    contact_id: int | None = None
    user_id: int | None = None


@dataclass
class ActionContext:
    session: AsyncSession
    settings: Settings
    rule_id: int
    run_id: int
    index: int
    event: EventData
    facts: dict[str, Any]
    dedupe: str

    @property
    def key(self) -> str:
        """Idempotency key of this action's effects (outbox, tasks): stable across retries and redelivery."""
        return f"automation:{self.rule_id}:{self.dedupe}:{self.index}"

    @property
    def next_depth(self) -> int:
        """Events this action causes are one step deeper in the chain: the loop guard counts them."""
        return self.event.depth + 1

    @property
    def source(self) -> str:
        """`source` of records an automation creates; `automation…` marks them as such (contact.created)."""
        return f"automation:{self.rule_id}:{self.event.id}"

    def fact_id(self, name: str, what: str) -> int:
        value = self.facts.get(name)
        if value is None:
            raise ActionError(f"Das Ereignis ({self.event.kind}) hat {what}")
        return int(value)

    async def contact(self) -> Contact:
        contact_id = self.fact_id("contact_id", "keinen Kontakt")
        contact = await self.session.get(Contact, contact_id)
        if contact is None:
            raise ActionError(f"Kontakt #{contact_id} existiert nicht")
        return contact

    async def property(self) -> Property:
        property_id = self.fact_id("property_id", "kein Objekt")
        prop = await self.session.get(Property, property_id)
        if prop is None:
            raise ActionError(f"Objekt #{property_id} existiert nicht")
        return prop

    async def user(self, person: Person, user_id: int | None = None) -> User:
        """The user PERSON stands for (task assignee, contact owner)."""
        if person == "user":
            if user_id is None:
                raise ActionError("Kein Benutzer gewählt")
            return await self._active_user(user_id, f"Benutzer #{user_id}")
        prop = await self.property()
        if person == "property_manager":
            if prop.manager_user_id is None:
                raise ActionError(f"Objekt {prop.external_ref} hat keinen Objektbetreuer")
            return await self._active_user(prop.manager_user_id, f"Objektbetreuer von {prop.external_ref}")
        if person == "property_contact_person":
            user_id = await self.session.scalar(
                select(Contact.user_id)
                .join(PropertyContactPerson, PropertyContactPerson.contact_id == Contact.id)
                .where(PropertyContactPerson.property_id == prop.id, Contact.user_id.is_not(None))
                .order_by(PropertyContactPerson.position)
                .limit(1)
            )
            if user_id is None:
                raise ActionError(f"Objekt {prop.external_ref} hat keinen Ansprechpartner, der ein Benutzer ist")
            return await self._active_user(user_id, f"Ansprechpartner von {prop.external_ref}")
        raise ActionError(f"{PERSON_LABELS.get(person, person)} kann keine Aufgabe erhalten")

    async def addressee(self, person: Person, user_id: int | None = None) -> Addressee:
        """Whom a mail goes to."""
        if person == "contact":
            contact = await self.contact()
            if not contact.email:
                raise ActionError(f"Kontakt #{contact.id} hat keine E-Mail-Adresse")
            return Addressee(contact.display_name, contact.email, contact_id=contact.id)
        if person == "property_contact_person":
            prop = await self.property()
            entry = await self.session.scalar(
                select(Contact)
                .join(PropertyContactPerson, PropertyContactPerson.contact_id == Contact.id)
                .where(PropertyContactPerson.property_id == prop.id, Contact.email.is_not(None))
                .order_by(PropertyContactPerson.position)
                .limit(1)
            )
            if entry is None or not entry.email:
                raise ActionError(f"Objekt {prop.external_ref} hat keinen Ansprechpartner mit E-Mail-Adresse")
            return Addressee(entry.display_name, entry.email, contact_id=entry.id, user_id=entry.user_id)
        user = await self.user(person, user_id)
        return Addressee(user.name, user.email, user_id=user.id)

    async def _active_user(self, user_id: int, what: str) -> User:
        user = await self.session.get(User, user_id)
        if user is None or not user.is_active:
            raise ActionError(f"{what} existiert nicht oder ist deaktiviert")
        return user

    async def agent(self) -> User | None:
        """Who speaks for the office in mails: the contact's owner, else the property's manager."""
        contact = await self._optional(Contact, "contact_id")
        prop = await self._optional(Property, "property_id")
        for user_id in (contact.owner_user_id if contact else None, prop.manager_user_id if prop else None):
            if user_id is not None:
                user = await self.session.get(User, user_id)
                if user is not None and user.is_active:
                    return user
        return None

    async def _optional(self, model: type[Contact] | type[Property], fact: str) -> Any:
        value = self.facts.get(fact)
        return await self.session.get(model, int(value)) if value is not None else None

    async def template_context(self) -> dict[str, Any]:
        """Names templates may use. Parts the event has no record for are left out, so a template that
        needs them fails visibly (StrictUndefined) instead of mailing empty text; `is defined` tests them."""
        zone = ZoneInfo(self.settings.time_zone)
        agent = await self.agent()
        context: dict[str, Any] = {
            "salutation_line": "Guten Tag,",
            "agent": {"name": agent.name if agent else "Ihr Immobilienteam", "email": agent.email if agent else ""},
            "facts": dict(self.facts),
        }
        contact = await self._optional(Contact, "contact_id")
        if contact is not None:
            context["salutation_line"] = salutation_line(contact.salutation, contact.last_name, contact.first_name)
            context["contact"] = {
                "name": contact.display_name,
                "salutation": contact.salutation or "",
                "first_name": contact.first_name or "",
                "last_name": contact.last_name,
                "email": contact.email or "",
            }
        prop = await self._optional(Property, "property_id")
        if prop is not None:
            context["property"] = {
                "title": prop.title,
                "ref": prop.external_ref,
                "street": prop.street or "",
                "zip_code": prop.zip_code or "",
                "city": prop.city or "",
            }
        if self.facts.get("appointment_id") is not None:
            appointment = await self.session.get(Appointment, int(self.facts["appointment_id"]))
            if appointment is not None:
                starts, ends = appointment.starts_at.astimezone(zone), appointment.ends_at.astimezone(zone)
                context["appointment"] = {
                    "title": appointment.title,
                    "date": starts.strftime("%d.%m.%Y"),
                    "time": starts.strftime("%H:%M"),
                    "end_time": ends.strftime("%H:%M"),
                }
        if self.facts.get("deal_id") is not None:
            deal = await self.session.get(Deal, int(self.facts["deal_id"]))
            if deal is not None:
                context["deal"] = {"stage": self.facts.get("stage") or deal.stage, "id": deal.id}
        if self.facts.get("age") is not None:
            context["age"] = self.facts["age"]
        return context
