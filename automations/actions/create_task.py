"""Create a task for a user, the property's manager or its contact person (seed 003: deal "Reserviert")."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field

from automations.actions import Action, ActionContext, ActionError, FormField
from automations.actions._support import PERSON_LABELS
from db.base import utcnow
from db.crm import create_task_once
from messaging.templating import TemplateRenderError, render
from workflows.automation_models import ActionOutcome

Assignee = Literal["user", "property_manager", "property_contact_person"]
ASSIGNEE_CHOICES = tuple((k, v) for k, v in PERSON_LABELS.items() if k != "contact")


class CreateTaskParams(BaseModel):
    title: str = Field(min_length=1, max_length=300, description="Jinja2 text, same names as mail templates.")
    body: str | None = Field(None, max_length=5000)
    assignee: Assignee = "property_contact_person"
    user_id: int | None = None
    due_in_days: int | None = Field(None, ge=0, le=365)


class CreateTask(Action[CreateTaskParams]):
    kind = "create_task"
    label = "Aufgabe anlegen"
    params_model = CreateTaskParams
    form = (
        FormField("title", "Titel", help="Platzhalter wie {{ property.title }} oder {{ contact.name }} möglich"),
        FormField("body", "Beschreibung", "textarea"),
        FormField("assignee", "Für", "select", ASSIGNEE_CHOICES),
        FormField("user_id", "Benutzer (bei „einen Benutzer“)", "select", "users"),
        FormField("due_in_days", "Fällig in Tagen", "number"),
    )

    def summary(self, params: CreateTaskParams) -> str:
        who = f"Benutzer #{params.user_id}" if params.assignee == "user" else dict(ASSIGNEE_CHOICES)[params.assignee]
        return f"Aufgabe „{params.title}“ für {who}"

    async def run(self, ctx: ActionContext, params: CreateTaskParams) -> ActionOutcome:
        assignee = await ctx.user(params.assignee, params.user_id)
        context = await ctx.template_context()
        try:
            title = " ".join(render(params.title, context).split())
            body = render(params.body, context) if params.body else None
        except TemplateRenderError as exc:
            raise ActionError(f"Aufgabentext lässt sich nicht füllen: {exc}") from exc
        facts = ctx.facts
        task = await create_task_once(
            ctx.session,
            idempotency_key=ctx.key,
            title=title or "Aufgabe aus Automation",
            body=body,
            assignee_user_id=assignee.id,
            contact_id=facts.get("contact_id"),
            property_id=facts.get("property_id"),
            inquiry_id=facts.get("inquiry_id"),
            due_at=utcnow() + timedelta(days=params.due_in_days) if params.due_in_days is not None else None,
        )
        return ActionOutcome(detail=f"Aufgabe „{task.title}“ für {assignee.name}")


ACTION = CreateTask()
