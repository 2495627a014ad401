"""The double opt-in mail of an advertising consent (§ 7 (2) UWG): a link the person must click.

The text is the template `consent.double_opt_in` when the office stored one, else the German example below.
"""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.app_settings import load_section
from db.legal_settings import SECTION, LegalSettings
from db.models import ConsentRecord, ConsentStatus, MessageTemplate
from db.session import SessionFactory
from messaging.default_templates import DefaultTemplate
from messaging.outbox import NewMessage, enqueue_message
from messaging.templating import TemplateRenderError, render_mail
from settings import Settings

CONSENT_PATH = "/consent/"
DOUBLE_OPT_IN = DefaultTemplate(
    key="consent.double_opt_in",
    name="Einwilligung: Bestätigung (Double-Opt-in)",
    subject="Bitte bestätigen Sie: Angebote von {{ office.name }} per E-Mail",
    body="Guten Tag,\n\n"
    "Sie haben angegeben, dass Sie über passende Immobilienangebote informiert werden möchten. Bitte bestätigen "
    "Sie das mit einem Klick auf diesen Link:\n\n{{ consent_link }}\n\n"
    "Sie haben zugestimmt: „{{ consent_text }}“\n\n"
    "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail einfach: ohne Bestätigung senden wir Ihnen keine "
    "Angebote.\n\nMit freundlichen Grüßen\n{{ office.name }}\n",
)


class ConsentActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name="compose_consent_mail")
    async def compose_consent_mail(self, consent_id: int) -> int | None:
        """The outbox row of the opt-in mail; None when there is nothing to ask any more."""
        async with self._sessions.begin() as session:
            record = await session.get(ConsentRecord, consent_id)
            if record is None:
                return None  # the confirmation it belonged to was refused, so the consent was never given
            if record.status != ConsentStatus.PENDING or not record.email or not record.confirm_token:
                return None  # confirmed, withdrawn or erased meanwhile
            legal = await load_section(session, SECTION, LegalSettings)
            row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == DOUBLE_OPT_IN.key))
            subject, body = (row.subject, row.body) if row else (DOUBLE_OPT_IN.subject, DOUBLE_OPT_IN.body)
            context = {
                "office": legal.identity.model_dump(mode="json"),
                "consent_link": f"{self._settings.public_base_url}{CONSENT_PATH}{record.confirm_token}",
                "consent_text": record.text,
            }
            try:
                subject, body = render_mail(subject, body, context)
            except TemplateRenderError as exc:
                raise ApplicationError(
                    f"template {DOUBLE_OPT_IN.key!r}: {exc}", type="TemplateError", non_retryable=True
                ) from exc
            message = await enqueue_message(
                session,
                NewMessage(
                    idempotency_key=f"consent:{consent_id}:double-opt-in",
                    template_key=DOUBLE_OPT_IN.key,
                    mail_class="transactional",
                    sender=self._settings.mail_from,
                    recipient=record.email,
                    subject=subject,
                    body_text=body,
                    contact_id=record.contact_id,
                    inquiry_id=record.inquiry_id,
                ),
                self._settings,
            )
            await session.flush()
            return message.id

    def all(self) -> list[object]:
        return [self.compose_consent_mail]
