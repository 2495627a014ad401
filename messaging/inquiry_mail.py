"""Composing the inquiry manager's mails into the outbox: confirmation, reminders, exposé, manager notice.

Reminders go out from the property manager without signature (seed 000); the exposé carries the key
data, the cover image and the exposé file or link (seed 002).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.app_settings import load_section
from db.legal_settings import SECTION, LegalSettings
from db.models import Contact, Inquiry, Mailbox, MessageTemplate, Property, User
from db.session import SessionFactory
from db.slot_store import time_slot_link, uses_time_slot_link
from domain.links import LinkSigner
from messaging import default_templates, l10n
from messaging.addresses import mailbox
from messaging.mail_layout import render_html
from messaging.outbox import NewMessage, enqueue_message
from messaging.templating import TemplateRenderError, render_mail
from messaging.widerruf import material_pdf, render_material, widerruf_applies, write_pdf
from settings import Settings
from workflows.inquiry_models import MailRequest

CONFIRM_PURPOSE = "confirm"


def key_facts(prop: Property) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if prop.property_type:
        facts.append(("Objektart", prop.property_type))
    if prop.rooms is not None:
        facts.append(("Zimmer", l10n.rooms(prop.rooms)))
    if prop.living_area is not None:
        facts.append(("Wohnfläche", l10n.area(prop.living_area)))
    if prop.price is not None:
        facts.append(("Preis", l10n.money(prop.price)))
    location = " ".join(part for part in (prop.zip_code, prop.city) if part)
    if location:
        facts.append(("Lage", location))
    for label, value in ((str(label), str(value)) for label, value in prop.key_data.items()):
        # Portals repeat the price or area in their key data under a more precise name ("Kaltmiete"): show
        # the amount once, under that name. Only amounts with a unit: "Etage 3" and "Zimmer 3" are two facts.
        same = next((i for i, (_, shown) in enumerate(facts) if shown == value and value.endswith(("€", "m²"))), None)
        if same is None:
            facts.append((label, value))
        else:
            facts[same] = (label, value)
    return facts


def salutation_line(salutation: str | None, last_name: str | None, first_name: str | None = None) -> str:
    """ "Sehr geehrte Frau Wagner," with a salutation; without one the full name ("Guten Tag Fritz Fünfer,"):
    a bare surname after "Guten Tag" reads like a command."""
    greeting = {"frau": "Sehr geehrte Frau", "herr": "Sehr geehrter Herr"}.get((salutation or "").strip().lower())
    if greeting and last_name:
        return f"{greeting} {last_name.strip()},"
    full_name = " ".join(part.strip() for part in (first_name, last_name) if part and part.strip())
    return f"Guten Tag {full_name}," if full_name else "Guten Tag,"


def mailbox_name(name: str | None, email: str) -> str:
    """RFC 5322 quoting: a name like "Max Bcc: evil@example.com" stays a display name, not an address group.

    The address in its ASCII (IDN) form; one SMTP cannot take fails the composing step for good."""
    return mailbox(name, email)


async def watched_mailbox(session: AsyncSession, address: str | None) -> str | None:
    if not address:
        return None
    found: str | None = await session.scalar(
        select(Mailbox.address).where(
            Mailbox.address == address.lower(), Mailbox.enabled.is_(True), Mailbox.imap_host.is_not(None)
        )
    )
    return found


class InquiryMailComposer:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._links = LinkSigner(settings.effective_secret_key())
        self._zone = ZoneInfo(settings.time_zone)

    def absolute(self, url: str | None) -> str | None:
        if url and url.startswith("/"):
            return self._settings.public_base_url + url
        return url

    def confirm_link(self, workflow_id: str, nonce: str, valid_until: datetime) -> str:
        token = self._links.sign(CONFIRM_PURPOSE, workflow_id=workflow_id, nonce=nonce, expires_at=valid_until)
        return f"{self._settings.public_base_url}/confirm/{token}"

    async def compose(self, request: MailRequest) -> int:
        async with self._sessions.begin() as session:
            inquiry = await session.get(Inquiry, request.inquiry_id)
            if inquiry is None:
                raise ApplicationError(f"inquiry {request.inquiry_id} does not exist", non_retryable=True)
            prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
            manager = await session.get(User, prop.manager_user_id) if prop and prop.manager_user_id else None
            contact = await session.get(Contact, request.contact_id) if request.contact_id else None
            context = self.template_context(request, inquiry, prop, manager, contact)
            subject, body = await self._render(session, request, context)
            sender = mailbox_name(manager.name, manager.email) if manager else self._settings.mail_from
            prospect = mailbox_name(context["prospect"]["name"], inquiry.email)
            # A watched office mailbox gets the answers, so a reply stops the follow-ups (issue 15).
            reply_to = await watched_mailbox(session, inquiry.mailbox_address) or (manager.email if manager else None)
            new = NewMessage(
                idempotency_key=request.idempotency_key,
                template_key=self._template_key(request),
                sender=sender,
                recipient=mailbox(None, manager.email) if request.kind == "manager_notice" and manager else prospect,
                reply_to=reply_to,
                subject=subject,
                body_text=body,
                inquiry_id=inquiry.id,
                contact_id=contact.id if contact else inquiry.contact_id,
                user_id=manager.id if manager and request.kind == "manager_notice" else None,
            )
            if request.kind == "expose" and prop is not None:
                new.body_html = self._expose_html(body, prop, subject)
                if prop.expose_file:
                    new.attachments = [{"path": prop.expose_file, "filename": f"Expose-{prop.external_ref}.pdf"}]
            if request.kind == "expose":
                await self._attach_widerruf(session, new, inquiry, prop)
            message = await enqueue_message(session, new, self._settings)
            await session.flush()
            return message.id

    async def _attach_widerruf(
        self, session: AsyncSession, new: NewMessage, inquiry: Inquiry, prop: Property | None
    ) -> None:
        """A broker's exposé carries the Widerrufsbelehrung and the model form, in the text and as a PDF."""
        legal = await load_section(session, SECTION, LegalSettings)
        if not widerruf_applies(prop, legal):
            return
        notice, form = render_material(legal, prop, inquiry.property_ref)
        path = write_pdf(self._settings.data_dir, inquiry.id, material_pdf(notice, form, legal.identity.name))
        new.body_text = f"{new.body_text.rstrip()}\n\n{legal.commission_note}\n\n{notice}\n\n{form}\n"
        if new.body_html:
            material = "".join(
                f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                for p in f"{legal.commission_note}\n\n{notice}".split("\n\n")
            )
            new.body_html = new.body_html.replace("</body>", f"<hr>{material}</body>", 1)
        new.attachments = [
            *new.attachments,
            {"path": path, "filename": "Widerrufsbelehrung.pdf", "content_type": "application/pdf"},
        ]

    @staticmethod
    def _template_key(request: MailRequest) -> str:
        if request.kind == "followup":
            return f"inquiry.followup.{request.attempt}"
        return f"inquiry.{request.kind}"

    async def _render(self, session: AsyncSession, request: MailRequest, context: dict[str, Any]) -> tuple[str, str]:
        key = self._template_key(request)
        row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
        if row is not None:
            subject, body = row.subject, row.body
        else:
            # The office raised the number of attempts without writing reminder N: use the built-in text.
            fallback = next((t for t in default_templates.defaults(request.attempt or 0) if t.key == key), None)
            if fallback is None:
                raise ApplicationError(f"template {key!r} does not exist", type="TemplateError", non_retryable=True)
            activity.logger.warning("template %s missing, using the built-in default", key)
            subject, body = fallback.subject, fallback.body
        if uses_time_slot_link(subject, body):
            context["time_slot_link"] = await self._time_slot_link(session, request)
        try:
            return render_mail(subject, body, context)
        except TemplateRenderError as exc:
            raise ApplicationError(f"template {key!r}: {exc}", type="TemplateError", non_retryable=True) from exc

    async def _time_slot_link(self, session: AsyncSession, request: MailRequest) -> str:
        """`{{ time_slot_link }}`: a time-slot request for this prospect and property, made once per mail."""
        inquiry = await session.get(Inquiry, request.inquiry_id)
        assert inquiry is not None  # loaded by compose() in this session
        return await time_slot_link(
            session,
            self._settings,
            contact_id=request.contact_id or inquiry.contact_id,
            property_id=inquiry.property_id,
            origin_key=request.idempotency_key,
            inquiry_id=inquiry.id,
        )

    def template_context(
        self,
        request: MailRequest,
        inquiry: Inquiry,
        prop: Property | None,
        manager: User | None,
        contact: Contact | None,
    ) -> dict[str, Any]:
        """The variables an inquiry mail template sees; the office's template preview renders the same."""
        first = contact.first_name if contact else inquiry.prospect.get("first_name")
        last = contact.last_name if contact else inquiry.prospect.get("last_name")
        salutation = contact.salutation if contact else inquiry.prospect.get("salutation")
        context: dict[str, Any] = {
            "salutation_line": salutation_line(salutation, last, first),
            "prospect": {
                "name": " ".join(p for p in (first, last) if p),
                "first_name": first,
                "last_name": last,
                "email": inquiry.email,
            },
            "property": {
                "title": prop.title if prop else (inquiry.property_ref or ""),
                "ref": prop.external_ref if prop else (inquiry.property_ref or ""),
                "key_facts": key_facts(prop) if prop else [],
                "expose_url": self.absolute(prop.expose_url) if prop else None,
                "cover_image_url": self.absolute(prop.cover_image_url) if prop else None,
            },
            "manager": {
                "name": manager.name if manager else "Ihr Immobilienteam",
                "email": manager.email if manager else "",
            },
            "attempts": request.attempt or 0,
            "attempts_text": l10n.plural(request.attempt or 0, "einer Erinnerung", "{n} Erinnerungen"),
            "inquiry_link": f"{self._settings.public_base_url}/dashboard/inquiries/{inquiry.id}",
            "confirm_link": "",
            "link_valid_until": "",
        }
        if request.link_nonce and request.link_valid_until:
            workflow_id = activity.info().workflow_id
            if workflow_id is None:
                raise ApplicationError("confirmation links belong to a workflow", non_retryable=True)
            context["confirm_link"] = self.confirm_link(workflow_id, request.link_nonce, request.link_valid_until)
            context["link_valid_until"] = l10n.day_time(request.link_valid_until, self._zone)
        return context

    def _expose_html(self, body: str, prop: Property, subject: str) -> str:
        """The branded layout with the cover photo on top; the key facts come from the text's "- Label: Wert"."""
        return render_html(body, subject=subject, cover_url=self.absolute(prop.cover_image_url), cover_alt=prop.title)
