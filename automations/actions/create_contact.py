"""Create the inquiry's prospect as a contact, with status, newsletter and owner (seed 003, example 2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from automations.actions import Action, ActionContext, ActionError, FormField
from automations.actions._support import PERSON_LABELS
from automations.triggers import STATUS_LABELS
from db.crm import ProspectAddress, create_contact, created_for_inquiry_source
from db.models import Contact, ContactStatus, Inquiry
from workflows.automation_models import ActionOutcome

Owner = Literal["none", "user", "property_manager", "property_contact_person"]
OWNER_CHOICES = (("none", "niemand"), *((k, v) for k, v in PERSON_LABELS.items() if k != "contact"))
STATUS_CHOICES = tuple((s.value, STATUS_LABELS.get(s.value, s.value)) for s in ContactStatus)


class CreateContactParams(BaseModel):
    status: ContactStatus = ContactStatus.PROSPECT
    newsletter: bool = False
    owner: Owner = "none"
    owner_user_id: int | None = None


class CreateContact(Action[CreateContactParams]):
    kind = "create_contact"
    label = "Interessenten als Kontakt anlegen"
    params_model = CreateContactParams
    form = (
        FormField("status", "Status", "select", STATUS_CHOICES),
        FormField("newsletter", "Newsletter", "checkbox"),
        FormField("owner", "Betreuer", "select", OWNER_CHOICES),
        FormField("owner_user_id", "Benutzer (bei „einen Benutzer“)", "select", "users"),
    )

    def summary(self, params: CreateContactParams) -> str:
        owner = dict(OWNER_CHOICES)[params.owner]
        newsletter = "ja" if params.newsletter else "nein"
        status = STATUS_LABELS.get(params.status.value, params.status.value)
        return f"Kontakt anlegen (Status {status}, Newsletter {newsletter}, Betreuer: {owner})"

    async def run(self, ctx: ActionContext, params: CreateContactParams) -> ActionOutcome:
        inquiry_id = ctx.fact_id("inquiry_id", "keine Anfrage, aus der ein Kontakt entstehen könnte")
        # The source names rule, event and inquiry: a retry after a lost reply finds the contact this run made,
        # and the inquiry manager knows it as the inquiry's own prospect, not as a duplicate of it.
        source = created_for_inquiry_source(ctx.source, inquiry_id)
        mine = await ctx.session.scalar(select(Contact).where(Contact.source.in_([ctx.source, source])))
        if mine is not None:
            return ActionOutcome(detail=f"Kontakt „{mine.display_name}“ angelegt")
        inquiry = await ctx.session.get(Inquiry, inquiry_id)
        if inquiry is None:
            raise ActionError(f"Anfrage #{inquiry_id} existiert nicht")
        known = await ctx.session.scalar(
            select(Contact)
            .where(Contact.email == inquiry.email.lower(), Contact.status != ContactStatus.ARCHIVED)
            .order_by(Contact.id)
            .limit(1)
        )
        if known is not None:
            return ActionOutcome(detail=f"Nichts angelegt: „{known.display_name}“ hat dieselbe E-Mail-Adresse")
        try:
            address = ProspectAddress.model_validate(
                {**inquiry.prospect, "email": inquiry.email, "newsletter": params.newsletter}
            )
        except ValidationError as exc:
            fields = ", ".join(str(error["loc"][0]) for error in exc.errors() if error["loc"])
            raise ActionError(f"Anfrage #{inquiry.id}: Angaben unvollständig oder ungültig ({fields})") from exc
        owner = None
        if params.owner != "none":
            owner = await ctx.user(params.owner, params.owner_user_id)
        contact = await create_contact(
            ctx.session,
            address,
            source=source,
            owner_user_id=owner.id if owner else None,
            status=params.status,
            event_depth=ctx.next_depth,
        )
        looked_after = f"Betreuer: {owner.name}" if owner else "ohne Betreuer"
        return ActionOutcome(detail=f"Kontakt „{contact.display_name}“ angelegt ({looked_after})")


ACTION = CreateContact()
