"""Move the event's deal to another stage."""

from __future__ import annotations

from pydantic import BaseModel, Field

from automations.actions import Action, ActionContext, ActionError, FormField
from automations.triggers.deal_stage_changed import STAGES
from db.crm_writes import change_deal_stage
from db.models import Deal
from workflows.automation_models import ActionOutcome


class SetDealStageParams(BaseModel):
    stage: str = Field(min_length=1, max_length=60)


class SetDealStage(Action[SetDealStageParams]):
    kind = "set_deal_stage"
    label = "Deal-Phase setzen"
    params_model = SetDealStageParams
    form = (FormField("stage", "Neue Phase", "select", tuple((s, s) for s in STAGES)),)

    def summary(self, params: SetDealStageParams) -> str:
        return f"Deal auf Phase „{params.stage}“ setzen"

    async def run(self, ctx: ActionContext, params: SetDealStageParams) -> ActionOutcome:
        deal_id = ctx.fact_id("deal_id", "keinen Deal")
        deal = await ctx.session.get(Deal, deal_id)
        if deal is None:
            raise ActionError(f"Deal #{deal_id} existiert nicht")
        if not await change_deal_stage(ctx.session, deal, params.stage, depth=ctx.next_depth):
            return ActionOutcome(detail=f"Deal #{deal.id} war bereits in Phase „{deal.stage}“")
        return ActionOutcome(detail=f"Deal #{deal.id} auf Phase „{deal.stage}“ gesetzt")


ACTION = SetDealStage()
