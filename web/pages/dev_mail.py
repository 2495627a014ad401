"""/dev/mail: the mails the development SMTP sink caught (`<data dir>/mail/*.eml`), readable in the browser.

Development only: every route answers 404 unless IMMOFLOW_ENV=development. Mail content is untrusted
(prospects' names and texts end up in it): text is autoescaped, HTML parts render in a sandboxed iframe.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from starter.dev.demo_mail import send as send_demo_mail
from starter.dev.smtp_sink import read_mailbox
from starter.services.context import Services
from starter.services.mailboxes import recent_inbound_mail
from web.dependencies import ServicesDep
from web.security.headers import MAIL_FRAME_HEADERS
from web.templating import templates

# Names the sink writes (`20261123T101500123456-000001.eml`); anything else is not ours to serve.
_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,200}\.eml$")


def _development_only(services: ServicesDep) -> None:
    if not services.settings.is_development:
        raise HTTPException(status_code=404)


router = APIRouter(prefix="/dev/mail", tags=["dev"], include_in_schema=False, dependencies=[Depends(_development_only)])


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MailView:
    name: str
    received_at: datetime | None
    sender: str
    recipients: str
    subject: str
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())

    @property
    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return None if part is None else str(part.get_content())

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [(name, str(value)) for name, value in self.message.items()]

    @property
    def attachments(self) -> list[Attachment]:
        result = []
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            result.append(Attachment(part.get_filename() or "(ohne Namen)", part.get_content_type(), size))
        return result


def _received_at(name: str) -> datetime | None:
    """The sink's file names start with the UTC receive time; that is the time a sink list should show."""
    try:
        return datetime.strptime(name.split("-", 1)[0], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        return None


def _view(name: str, message: EmailMessage) -> MailView:
    return MailView(
        name=name,
        received_at=_received_at(name),
        sender=str(message.get("From", "")),
        recipients=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        message=message,
    )


def mail_dir(services: Services) -> Path:
    return services.settings.data_dir / "mail"


def _mail_file(services: Services, name: str) -> Path:
    path = mail_dir(services) / name
    if not _NAME.fullmatch(name) or not path.is_file():
        raise HTTPException(status_code=404, detail="Diese Mail gibt es nicht (mehr).")
    return path


def _read_one(path: Path) -> MailView:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return _view(path.name, message)


@router.get("", response_class=HTMLResponse, name="dev_mail_list")
async def mail_list(request: Request, services: ServicesDep) -> HTMLResponse:
    mailbox = await asyncio.to_thread(read_mailbox, mail_dir(services))
    mails = [_view(name, message) for name, message in mailbox]
    settings = services.settings
    context = {
        "mails": mails,
        "external_smtp": settings.smtp_host,
        "smtp_port": settings.smtp_port,
        # The office mailbox's side of the loop: what the watcher fetched and what it made of it.
        "inbound": await recent_inbound_mail(services),
    }
    return templates.TemplateResponse(request, "dev_mail/list.html", context)


@router.post("/{name}/reply", name="dev_mail_reply")
async def reply_as_prospect(name: str, services: ServicesDep) -> RedirectResponse:
    """Answer a caught mail as its recipient would (to its Reply-To): in `immoflow dev` the SMTP sink puts
    the answer into the office mailbox, where the watcher reads it as a reply."""
    original = (await asyncio.to_thread(_read_one, _mail_file(services, name))).message
    answer = EmailMessage()
    answer["From"] = str(original.get("To", ""))
    answer["To"] = str(original.get("Reply-To") or original.get("From", ""))
    answer["Subject"] = "Re: " + str(original.get("Subject", ""))
    if original.get("Message-ID"):
        answer["In-Reply-To"] = answer["References"] = str(original["Message-ID"])
    answer.set_content("Vielen Dank, ich melde mich telefonisch bei Ihnen.\n\nViele Grüße")
    await send_demo_mail(services.settings, answer)
    return RedirectResponse("/dev/mail", status_code=303)


@router.get("/{name}", response_class=HTMLResponse, name="dev_mail_detail")
async def mail_detail(request: Request, name: str, services: ServicesDep) -> HTMLResponse:
    mail = await asyncio.to_thread(_read_one, _mail_file(services, name))
    return templates.TemplateResponse(request, "dev_mail/detail.html", {"mail": mail})


@router.get("/{name}/html", response_class=HTMLResponse, name="dev_mail_html")
async def mail_html(name: str, services: ServicesDep) -> HTMLResponse:
    """The HTML part for the sandboxed frame of detail.html, with a policy of its own."""
    mail = await asyncio.to_thread(_read_one, _mail_file(services, name))
    if mail.html is None:
        raise HTTPException(status_code=404)
    return HTMLResponse(mail.html, headers=MAIL_FRAME_HEADERS)


@router.get("/{name}/raw", response_class=PlainTextResponse, name="dev_mail_raw")
async def mail_raw(name: str, services: ServicesDep) -> PlainTextResponse:
    data = await asyncio.to_thread(_mail_file(services, name).read_bytes)
    # text/plain + nosniff: a browser never interprets the raw mail as HTML.
    return PlainTextResponse(data.decode("utf-8", "replace"), headers={"X-Content-Type-Options": "nosniff"})
