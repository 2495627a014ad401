"""The Art. 15 DSGVO export as a PDF: everything stored about a contact, readable and printable.

The data is the export's JSON (db/privacy_store.py `export_contact`), section by section with German titles,
one block per record. Long values (mail bodies, JSON) are paragraphs, not table cells: ReportLab splits a
paragraph across pages, while a table row taller than a page cannot be laid out. Same page and type style as
the Widerruf PDF (messaging/widerruf.py): A4, 20 mm margins, ReportLab's sample styles; but a TrueType font,
since names like Łukasz or Şahin must come out as stored, and the PDF core fonts know only Latin-1: DejaVu Sans
(Debian's fonts-dejavu-core, in the Docker image) where ReportLab's font path finds it, else the Vera fonts
ReportLab ships.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus.doctemplate import BaseDocTemplate

SECTION_TITLES: dict[str, str] = {
    "contact": "Stammdaten",
    "inquiries": "Anfragen",
    "inquiry_steps": "Verlauf der Anfragen",
    "messages": "E-Mails und Nachrichten",
    "consent_records": "Einwilligungen",
    "objections": "Widersprüche",
    "activities": "Journal",
    "notes": "Notizen",
    "tasks": "Aufgaben",
    "appointments": "Termine",
    "deals": "Geschäfte",
    "leads": "Leads",
    "slot_requests": "Terminanfragen",
    "privacy_audit": "Protokoll (Auskünfte, Löschungen, Widersprüche)",
}
RECORD_TITLES: dict[str, str] = {
    "inquiries": "Anfrage",
    "inquiry_steps": "Schritt",
    "messages": "Nachricht",
    "consent_records": "Einwilligung",
    "objections": "Widerspruch",
    "activities": "Eintrag",
    "notes": "Notiz",
    "tasks": "Aufgabe",
    "appointments": "Termin",
    "deals": "Geschäft",
    "leads": "Lead",
    "slot_requests": "Terminanfrage",
    "privacy_audit": "Eintrag",
}
MARGIN = 20 * mm
# (regular, bold) file names, looked up on ReportLab's TTF search path; the first pair found is used.
FONT_FILES = (("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"), ("Vera.ttf", "VeraBd.ttf"))


@cache
def export_font() -> str:
    """The registered font family's name (its <b> variant registered with it)."""
    for regular, bold in FONT_FILES:
        family = regular.removesuffix(".ttf")
        try:
            pdfmetrics.registerFont(TTFont(family, regular))
            pdfmetrics.registerFont(TTFont(f"{family}-Bold", bold))
        except TTFError:
            continue
        pdfmetrics.registerFontFamily(family, normal=family, bold=f"{family}-Bold")
        return family
    return "Helvetica"


def export_pdf(data: Mapping[str, Any], *, contact_id: int, office_name: str, created_at: datetime) -> bytes:
    """DATA: the export's sections; CREATED_AT: the moment of the export, in the office's time zone."""
    font = export_font()
    bold = font if font == "Helvetica" else f"{font}-Bold"
    styles = getSampleStyleSheet()
    body = ParagraphStyle("ExportBody", parent=styles["BodyText"], fontName=font)
    field = ParagraphStyle("ExportField", parent=body, fontSize=9, leading=11.5, spaceAfter=1.5)
    record_title = ParagraphStyle("ExportRecord", parent=styles["Heading4"], fontName=bold, spaceBefore=8)
    section = ParagraphStyle("ExportSection", parent=styles["Heading2"], fontName=bold)
    title = f"Auskunft nach Art. 15 DSGVO – Kontakt #{contact_id}"
    story: list[Any] = [
        Paragraph(escape(title), ParagraphStyle("ExportTitle", parent=styles["Title"], fontName=bold)),
        Paragraph(
            escape(f"Erstellt am {created_at:%d.%m.%Y um %H:%M} Uhr von {office_name}. Alle gespeicherten Daten."),
            body,
        ),
        Spacer(1, 4 * mm),
    ]
    for key, value in data.items():
        rows = [value] if isinstance(value, Mapping) else list(value or [])
        heading = SECTION_TITLES.get(key, key)
        story.append(Paragraph(escape(heading if key == "contact" else f"{heading} ({len(rows)})"), section))
        if not rows:
            story.append(Paragraph("Keine Einträge.", field))
        for row in rows:
            if key != "contact":
                label = RECORD_TITLES.get(key, "Eintrag")
                story.append(Paragraph(escape(f"{label} #{row.get('id', '?')}"), record_title))
            story += [Paragraph(f"<b>{escape(str(name))}</b>: {_text(item)}", field) for name, item in row.items()]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author=office_name,
        subject="Auskunft nach Art. 15 DSGVO",
    )

    def footer(canvas: Canvas, document: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(MARGIN, 10 * mm, f"{office_name} · Auskunft Kontakt #{contact_id}")
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"Seite {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _text(value: Any) -> str:
    """A value as paragraph markup: empty as a dash, structures as indented JSON, line breaks kept."""
    if value is None or value == "":
        return "—"
    if isinstance(value, Mapping | list):
        value = json.dumps(value, ensure_ascii=False, indent=1, default=str)
    return escape(str(value)).replace("\n", "<br/>")
