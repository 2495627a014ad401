"""Archive the property linked to the event (seed 003: a note with a given text)."""

from __future__ import annotations

from pydantic import BaseModel

from automations.actions import Action, ActionContext
from workflows.automation_models import ActionOutcome


class NoParams(BaseModel):
    pass


class ArchiveProperty(Action[NoParams]):
    kind = "archive_property"
    label = "Verknüpftes Objekt archivieren"
    params_model = NoParams

    def summary(self, params: NoParams) -> str:
        return "Verknüpftes Objekt archivieren"

    async def run(self, ctx: ActionContext, params: NoParams) -> ActionOutcome:
        prop = await ctx.property()
        if prop.archived:
            return ActionOutcome(detail=f"Objekt {prop.external_ref} war bereits archiviert")
        prop.archived = True
        return ActionOutcome(detail=f"Objekt {prop.external_ref} archiviert")


ACTION = ArchiveProperty()
