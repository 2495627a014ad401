"""Widerruf of a broker contract (BGH I ZR 30/15, § 356 (4) BGB): the material the prospect gets, and its PDF.

The confirmation page shows the Widerrufsbelehrung and the Muster-Widerrufsformular; the exposé mail carries
both and a PDF of them (a durable medium). Whether the exposé waits is the activity's question
(activities/widerruf.py).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from temporalio.exceptions import ApplicationError

from db.legal_settings import LegalSettings
from db.models import Property
from messaging.templating import TemplateRenderError, render

PDF_DIR = Path("legal")


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
