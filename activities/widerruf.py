"""Widerruf of a broker contract (BGH I ZR 30/15, § 356 (4) BGB): the material, its PDF, the exposé's wait.

An exposé that claims a commission starts a distance contract the prospect may withdraw from within the
withdrawal period. Without the prospect's express request to start early, the office either waits until
the period has passed (a durable timer in InquiryWorkflow) or sends at once at its own risk.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.app_settings import load_section
from db.base import utcnow
from db.legal_settings import SECTION, LegalSettings
from db.models import ConsentPurpose, ConsentRecord, Inquiry, Property
from db.session import SessionFactory
from messaging.templating import TemplateRenderError, render
from settings import Settings

PDF_DIR = Path("legal")


class WiderrufWait(BaseModel):
    """Activity result: until when the exposé waits (None: send now). IDs and instants only."""

    applies: bool
    wait_until: datetime | None = None


def widerruf_applies(prop: Property | None, legal: LegalSettings) -> bool:
    if prop is not None and prop.widerruf_mode in ("on", "off"):
        return prop.widerruf_mode == "on"
    return legal.widerruf_enabled


def material_context(legal: LegalSettings, prop: Property | None, ref: str | None) -> dict[str, Any]:
    return {
        "office": legal.identity.model_dump(mode="json"),
        "property": {"title": prop.title if prop else (ref or ""), "ref": prop.external_ref if prop else (ref or "")},
    }


def render_material(legal: LegalSettings, prop: Property | None, ref: str | None) -> tuple[str, str]:
    """The Widerrufsbelehrung and the Muster-Widerrufsformular with the office's and property's data."""
    context = material_context(legal, prop, ref)
    try:
        return render(legal.widerruf_text, context), render(legal.withdrawal_form, context)
    except TemplateRenderError as exc:
        raise ApplicationError(f"Widerruf texts: {exc}", type="TemplateError", non_retryable=True) from exc


def material_pdf(notice: str, form: str, office_name: str) -> bytes:
    """A durable medium (§ 126b BGB): the notice and the model form as a PDF, one page break between them."""
    from reportlab.platypus import PageBreak

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, title="Widerrufsbelehrung", author=office_name
    )
    styles = getSampleStyleSheet()
    story: list[Any] = []
    for index, text in enumerate((notice, form)):
        if index:
            story.append(PageBreak())
        first, *rest = text.strip().split("\n", 1)
        story.append(Paragraph(_escape(first), styles["Title"]))
        for paragraph in (rest[0] if rest else "").split("\n\n"):
            if paragraph.strip():
                story += [Paragraph(_escape(paragraph).replace("\n", "<br/>"), styles["BodyText"]), Spacer(1, 4 * mm)]
    doc.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_pdf(data_dir: Path, inquiry_id: int, content: bytes) -> str:
    """Below the data dir, one file per inquiry (a retry writes the same file); the relative path."""
    relative = PDF_DIR / f"widerruf-inquiry-{inquiry_id}.pdf"
    path = data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(relative)


class WiderrufActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name="widerruf_wait")
    async def widerruf_wait(self, inquiry_id: int) -> WiderrufWait:
        async with self._sessions() as session:
            inquiry = await session.get(Inquiry, inquiry_id)
            if inquiry is None:
                raise ApplicationError(f"inquiry {inquiry_id} does not exist", non_retryable=True)
            prop = await session.get(Property, inquiry.property_id) if inquiry.property_id else None
            legal = await load_section(session, SECTION, LegalSettings)
            if not widerruf_applies(prop, legal):
                return WiderrufWait(applies=False)
            records = list(
                await session.scalars(
                    select(ConsentRecord).where(
                        ConsentRecord.inquiry_id == inquiry_id,
                        ConsentRecord.purpose.in_(
                            [ConsentPurpose.WIDERRUF_EARLY_START, ConsentPurpose.WIDERRUF_NOTICE]
                        ),
                    )
                )
            )
        if (
            any(r.purpose == ConsentPurpose.WIDERRUF_EARLY_START for r in records)
            or legal.without_early_start == "send_now"
        ):
            return WiderrufWait(applies=True)
        # The period runs from the contract (the confirmation that showed the notice); a day's margin for
        # a withdrawal posted on the last day.
        start = min((r.given_at for r in records), default=utcnow())
        return WiderrufWait(applies=True, wait_until=start + timedelta(days=legal.withdrawal_days + 1))

    def all(self) -> list[object]:
        return [self.widerruf_wait]
