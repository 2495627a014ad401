"""Set fields of the event's contact: status, newsletter, owner."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, model_validator

from automations.actions import Action, ActionContext, FormField
from automations.actions._support import PERSON_LABELS
from automations.triggers import STATUS_LABELS
from db.models import ContactStatus
from workflows.automation_models import ActionOutcome

Owner = Literal["keep", "none", "user", "property_manager", "property_contact_person"]
OWNER_CHOICES = (
    ("keep", "unverändert"),
    ("none", "niemand"),
    *((k, v) for k, v in PERSON_LABELS.items() if k != "contact"),
)
KEEP = (("", "unverändert"),)


class UpdateContactParams(BaseModel):
    status: ContactStatus | None = None
    newsletter: bool | None = None
    owner: Owner = "keep"
    owner_user_id: int | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateContactParams:
        if self.status is None and self.newsletter is None and self.owner == "keep":
            raise ValueError("mindestens ein Feld muss sich ändern")
        return self


class UpdateContact(Action[UpdateContactParams]):
    kind = "update_contact"
    label = "Kontaktfelder setzen"
    params_model = UpdateContactParams
    form = (
        FormField("status", "Status", "select", KEEP + tuple((s.value, STATUS_LABELS[s.value]) for s in ContactStatus)),
        FormField("newsletter", "Newsletter", "select", (*KEEP, ("true", "ja"), ("false", "nein"))),
        FormField("owner", "Betreuer", "select", OWNER_CHOICES),
        FormField("owner_user_id", "Benutzer (bei „einen Benutzer“)", "select", "users"),
    )

    def summary(self, params: UpdateContactParams) -> str:
        parts = []
        if params.status is not None:
            parts.append(f"Status {STATUS_LABELS.get(params.status.value, params.status.value)}")
        if params.newsletter is not None:
            parts.append(f"Newsletter {'ja' if params.newsletter else 'nein'}")
        if params.owner != "keep":
            parts.append(f"Betreuer: {dict(OWNER_CHOICES)[params.owner]}")
        return f"Kontakt ändern ({', '.join(parts)})"

    async def run(self, ctx: ActionContext, params: UpdateContactParams) -> ActionOutcome:
        contact = await ctx.contact()
        if params.status is not None:
            contact.status = params.status
        if params.newsletter is not None:
            contact.newsletter = params.newsletter
        if params.owner == "none":
            contact.owner_user_id = None
        elif params.owner != "keep":
            contact.owner_user_id = (await ctx.user(params.owner, params.owner_user_id)).id
        return ActionOutcome(detail=f"Kontakt „{contact.display_name}“ geändert: {self.summary(params)}")


ACTION = UpdateContact()
