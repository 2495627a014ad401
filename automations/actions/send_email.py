"""Send an email from a template (first email, birthday mail, appointment confirmation, …)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select

from automations.actions import Action, ActionContext, ActionError, FormField
from automations.actions._support import PERSON_LABELS, Person
from db.models import MessageTemplate
from messaging import default_templates
from messaging.addresses import mailbox
from messaging.outbox import NewMessage, enqueue_message
from messaging.templating import TemplateRenderError, render_mail
from workflows.automation_models import ActionOutcome


class SendEmailParams(BaseModel):
    template_key: str = Field(min_length=1, max_length=120)
    to: Person = "contact"
    user_id: int | None = None


class SendEmail(Action[SendEmailParams]):
    kind = "send_email"
    label = "E-Mail aus Vorlage senden"
    params_model = SendEmailParams
    form = (
        FormField("template_key", "Vorlage", "select", "templates"),
        FormField("to", "An", "select", tuple(PERSON_LABELS.items())),
        FormField("user_id", "Benutzer (bei „einen Benutzer“)", "select", "users"),
    )

    def summary(self, params: SendEmailParams) -> str:
        to = f"Benutzer #{params.user_id}" if params.to == "user" else PERSON_LABELS[params.to]
        return f"E-Mail „{params.template_key}“ an {to}"

    async def run(self, ctx: ActionContext, params: SendEmailParams) -> ActionOutcome:
        addressee = await ctx.addressee(params.to, params.user_id)
        subject, body = await self._render(ctx, params.template_key)
        agent = await ctx.agent()
        message = await enqueue_message(
            ctx.session,
            NewMessage(
                idempotency_key=ctx.key,
                template_key=params.template_key,
                sender=mailbox(agent.name, agent.email) if agent else ctx.settings.mail_from,
                recipient=mailbox(addressee.name, addressee.email),
                reply_to=agent.email if agent else None,
                subject=subject,
                body_text=body,
                contact_id=addressee.contact_id,
                user_id=addressee.user_id,
            ),
            ctx.settings,
        )
        await ctx.session.flush()
        who = f"Kontakt #{addressee.contact_id}" if addressee.contact_id else f"Benutzer #{addressee.user_id}"
        return ActionOutcome(
            detail=f"E-Mail „{params.template_key}“ an {who} (Nachricht #{message.id})", message_ids=[message.id]
        )

    @staticmethod
    async def _render(ctx: ActionContext, key: str) -> tuple[str, str]:
        row = await ctx.session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
        if row is not None:
            subject, body = row.subject, row.body
        else:
            # The shipped texts work before `immoflow demo` (or an office) stored them.
            fallback = next((t for t in default_templates.defaults() if t.key == key), None)
            if fallback is None:
                raise ActionError(f"Vorlage „{key}“ existiert nicht")
            subject, body = fallback.subject, fallback.body
        try:
            return render_mail(subject, body, await ctx.template_context())
        except TemplateRenderError as exc:
            raise ActionError(f"Vorlage „{key}“ lässt sich nicht füllen: {exc}") from exc


ACTION = SendEmail()
