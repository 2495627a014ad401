"""The office-branded HTML part of every mail, made from its plain-text part.

Office users write mail templates as plain text; the HTML alternative is derived from that text, so both
parts always say the same and the text part stays what a plain-text client shows. The layout is what mail
clients render alike: nested tables, inline styles, a 600 px column that shrinks on phones, no web
fonts, no scripts, no CSS classes a webmail would strip. Paragraphs stay paragraphs, "- Label: Wert"
lines become a table of facts, a line that is only a link becomes a button (with the address below it
for clients that block buttons), and the office's identity fills the header and footer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

from db.legal_settings import OfficeIdentity
from messaging.mail_policy import legal_links
from settings import Settings, get_settings

_TEMPLATES = Path(__file__).parent / "mail_templates"
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
)
_URL = re.compile(r"https?://[^\s<>\"']+")
_FACT = re.compile(r"^[-•]\s+(?P<label>[^:]{1,60}):\s+(?P<value>.+)$")
_BULLET = re.compile(r"^[-•]\s+(?P<text>.+)$")
_NUMBERED = re.compile(r"^\d{1,2}\.\s+(?P<text>.+)$")

# What a button says, by the path the link leads to; other links get the generic label.
_BUTTON_LABELS = (
    ("/confirm/", "Anfrage bestätigen"),
    ("/slots/", "Termine vorschlagen"),
    ("/leads/", "Lead öffnen"),
    ("/dashboard/inquiries/", "Anfrage öffnen"),
    ("/slot-requests/", "Terminanfrage öffnen"),
    (".pdf", "Exposé öffnen"),
    ("expose", "Exposé öffnen"),
)


@dataclass(frozen=True)
class OfficeBrand:
    """Who the mail is from, as the header and footer show it.

    The office identity settings (name, address, logo, Impressum, privacy policy) feed this; until an
    office has entered them, the sender's display name stands in and the footer stays short.
    """

    name: str
    logo_url: str | None = None
    address_lines: tuple[str, ...] = ()
    website: str | None = None
    imprint_url: str | None = None
    privacy_url: str | None = None
    footer_lines: tuple[str, ...] = field(default_factory=tuple)
    accent: str = "#1d4ed8"


def brand_of(identity: OfficeIdentity, base_url: str = "") -> OfficeBrand:
    """The office as its legal settings name it (issue 16): name, logo, address, Impressum and privacy notice."""
    impressum, privacy = legal_links(identity, base_url)
    return OfficeBrand(
        name=identity.name,
        logo_url=str(identity.logo_url) if identity.logo_url else None,
        address_lines=tuple(part for part in (identity.address,) if part),
        imprint_url=impressum,
        privacy_url=privacy,
    )


def office_brand(settings: Settings | None = None) -> OfficeBrand:
    """The brand from the settings; a sender like "immoflow <noreply@…>" reads as the product, not an office."""
    settings = settings or get_settings()
    name = parseaddr(settings.mail_from)[0].strip()
    return OfficeBrand(name=name if name and name.lower() != "immoflow" else "Ihr Immobilienbüro")


@dataclass(frozen=True)
class _Block:
    kind: str  # "paragraph", "facts", "list", "numbered", "button"
    lines: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    url: str = ""
    label: str = ""


def _button_label(url: str) -> str:
    path = urlsplit(url).path.lower()
    return next((label for marker, label in _BUTTON_LABELS if marker in path), "Link öffnen")


def _blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = tuple(line.rstrip() for line in chunk.split("\n") if line.strip())
        if not lines:
            continue
        if len(lines) == 1 and _URL.fullmatch(lines[0].strip()):
            url = lines[0].strip()
            blocks.append(_Block("button", url=url, label=_button_label(url)))
        elif all(_FACT.match(line) for line in lines):
            facts = tuple((m["label"], m["value"]) for m in (_FACT.match(line) for line in lines) if m)
            blocks.append(_Block("facts", facts=facts))
        elif all(_BULLET.match(line) for line in lines):
            blocks.append(_Block("list", lines=tuple(m["text"] for m in map(_BULLET.match, lines) if m)))
        elif all(_NUMBERED.match(line) for line in lines):
            blocks.append(_Block("numbered", lines=tuple(m["text"] for m in map(_NUMBERED.match, lines) if m)))
        else:
            blocks.append(_Block("paragraph", lines=lines))
    return blocks


def _linked(text: str, accent: str) -> Markup:
    """Escaped text whose URLs are links (long ones may break anywhere, so a phone needs no side scroll)."""
    parts: list[Markup] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        parts.append(escape(text[position : match.start()]))
        parts.append(Markup('<a href="{0}" style="color:{1};word-break:break-all;">{0}</a>').format(url, accent))
        position = match.start() + len(url)
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def render_html(
    text: str,
    *,
    brand: OfficeBrand | None = None,
    subject: str = "",
    cover_url: str | None = None,
    cover_alt: str = "",
) -> str:
    """The HTML alternative of a mail whose plain-text part is TEXT."""
    brand = brand or office_brand()
    template = _environment.get_template("layout.html")
    preheader = next((" ".join(b.lines) for b in _blocks(text)[1:2] if b.kind == "paragraph"), "")
    return template.render(
        brand=brand,
        subject=subject,
        blocks=_blocks(text),
        cover_url=cover_url,
        cover_alt=cover_alt,
        preheader=preheader[:140],
        linked=lambda value: _linked(value, brand.accent),
    )
