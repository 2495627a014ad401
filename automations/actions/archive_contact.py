"""Archive the event's contact (seed 003, example 1: a cancellation "Kein Kontakt mehr gewünscht")."""

from __future__ import annotations

from pydantic import BaseModel

from automations.actions import Action, ActionContext
from db.models import ContactStatus
from workflows.automation_models import ActionOutcome


class NoParams(BaseModel):
    pass


class ArchiveContact(Action[NoParams]):
    kind = "archive_contact"
    label = "Kontakt archivieren"
    params_model = NoParams

    def summary(self, params: NoParams) -> str:
        return "Kontakt archivieren"

    async def run(self, ctx: ActionContext, params: NoParams) -> ActionOutcome:
        contact = await ctx.contact()
        if contact.status == ContactStatus.ARCHIVED:
            return ActionOutcome(detail=f"Kontakt #{contact.id} war bereits archiviert")
        contact.status = ContactStatus.ARCHIVED
        return ActionOutcome(detail=f"Kontakt #{contact.id} archiviert")


ACTION = ArchiveContact()
