"""OpenImmo 1.2.x property exports (what German CRMs send the portals) -> PropertyRecord per <immobilie>.

    <openimmo>
      <uebertragung art="ONLINE" umfang="TEIL" version="1.2.7" …/>
      <anbieter>
        <immobilie>
          <objektkategorie><vermarktungsart MIETE_PACHT="true"/><objektart><wohnung/></objektart></objektkategorie>
          <geo><plz/><ort/><strasse/><hausnummer/><etage/></geo>
          <preise><kaufpreis/> | <kaltmiete/><warmmiete/><nebenkosten/><kaution/></preise>
          <flaechen><wohnflaeche/><anzahl_zimmer/>…</flaechen>
          <zustand_angaben><verkaufstatus stand="OFFEN|RESERVIERT|VERKAUFT"/></zustand_angaben>
          <freitexte><objekttitel/><objektbeschreibung/><lage/><ausstatt_beschreibung/><sonstige_angaben/></freitexte>
          <anhaenge><anhang location="INTERN" gruppe="TITELBILD"><daten><pfad>a.jpg</pfad></daten></anhang></anhaenge>
          <verwaltung_techn><objektnr_extern>W-1001</objektnr_extern><aktion aktionart="DELETE"/></verwaltung_techn>
        </immobilie>
      </anbieter>
    </openimmo>

The file as a whole is refused (OpenImmoFileError) when it is not XML in its declared encoding, uses a
DTD or entities (defusedxml: no billion laughs, no external entities) or is no OpenImmo document; one
<immobilie> that cannot be read is refused on its own with the element at fault, the others go on.
Namespaces are ignored (some exporters write xmlns="http://www.openimmo.de").
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from messaging.l10n import number

Action = Literal["CHANGE", "DELETE"]
MAX_REF_LENGTH = 64
MAX_TITLE_LENGTH = 300
OBJECT_TYPES = {
    "zimmer": "Zimmer",
    "wohnung": "Wohnung",
    "haus": "Haus",
    "grundstueck": "Grundstück",
    "buero_praxen": "Büro/Praxis",
    "einzelhandel": "Einzelhandel",
    "gastgewerbe": "Gastgewerbe",
    "hallen_lager_prod": "Halle/Lager/Produktion",
    "land_und_forstwirtschaft": "Land- und Forstwirtschaft",
    "parken": "Stellplatz",
    "sonstige": "Sonstiges",
    "freizeitimmobilie_gewerblich": "Freizeitimmobilie",
    "zinshaus_renditeobjekt": "Zinshaus/Renditeobjekt",
}
# (element, label, unit) of the facts shown on the exposé and the viewing page, in this order.
PRICE_FACTS = (
    ("kaufpreis", "Kaufpreis", "€"),
    ("kaltmiete", "Kaltmiete", "€"),
    ("warmmiete", "Warmmiete", "€"),
    ("nebenkosten", "Nebenkosten", "€"),
    ("heizkosten", "Heizkosten", "€"),
    ("kaution", "Kaution", "€"),
)
AREA_FACTS = (
    ("nutzflaeche", "Nutzfläche", "m²"),
    ("grundstuecksflaeche", "Grundstücksfläche", "m²"),
    ("anzahl_schlafzimmer", "Schlafzimmer", ""),
    ("anzahl_badezimmer", "Badezimmer", ""),
)
TEXTS = {
    "objektbeschreibung": "Objektbeschreibung",
    "lage": "Lage",
    "ausstatt_beschreibung": "Ausstattung",
    "sonstige_angaben": "Sonstiges",
    "dreizeiler": "Kurzbeschreibung",
}
SALES_STATUS = {"OFFEN": "active", "RESERVIERT": "reserved", "VERKAUFT": "sold"}
_ENCODING_DECLARATION = re.compile(rb"""\A\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


class OpenImmoFileError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecordError(ValueError):
    """One <immobilie> cannot be imported; the text names the element."""


@dataclass(frozen=True)
class Attachment:
    group: str  # TITELBILD, BILD, GRUNDRISS, DOKUMENTE, … (upper-case; "" when absent)
    location: str  # INTERN (a file in the ZIP) or EXTERN (a URL)
    path: str
    title: str | None
    format: str | None


@dataclass
class PropertyRecord:
    ref: str
    action: Action
    title: str | None = None
    property_type: str | None = None
    marketing_status: str = "active"
    rooms: Decimal | None = None
    living_area: Decimal | None = None
    price: Decimal | None = None
    street: str | None = None
    zip_code: str | None = None
    city: str | None = None
    key_data: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    contact_email: str | None = None


@dataclass(frozen=True)
class RefusedRecord:
    position: int  # 1-based, in document order
    ref: str | None
    reason: str


@dataclass
class OpenImmoDocument:
    version: str | None
    full: bool  # umfang="VOLL": the file is the whole portfolio; what it lacks is gone
    records: list[PropertyRecord]
    refused: list[RefusedRecord]


def parse_openimmo(body: bytes) -> OpenImmoDocument:
    root = _parse_xml(body)
    if _local(root.tag) != "openimmo":
        raise OpenImmoFileError(f"Kein OpenImmo-Export: das Wurzelelement ist <{_local(root.tag)}>, nicht <openimmo>.")
    transfer = _child(root, "uebertragung")
    version = transfer.get("version") if transfer is not None else None
    full = transfer is not None and (transfer.get("umfang") or "").upper() == "VOLL"
    records: list[PropertyRecord] = []
    refused: list[RefusedRecord] = []
    items = [item for provider in _children(root, "anbieter") for item in _children(provider, "immobilie")]
    if not items:
        raise OpenImmoFileError("Die Datei enthält keine Immobilie (<anbieter><immobilie>).")
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        ref = _text(_child(item, "verwaltung_techn"), "objektnr_extern")
        try:
            record = _record(item, ref)
            if record.ref.lower() in seen:
                raise RecordError(f"Objektnummer {record.ref} kommt in der Datei mehrfach vor; nur die erste zählt.")
            seen.add(record.ref.lower())
            records.append(record)
        except RecordError as exc:
            refused.append(RefusedRecord(position=position, ref=ref, reason=str(exc)))
    return OpenImmoDocument(version=version, full=full, records=records, refused=refused)


def _record(item: Element, ref: str | None) -> PropertyRecord:
    technical = _child(item, "verwaltung_techn")
    if not ref:
        raise RecordError("verwaltung_techn/objektnr_extern fehlt: ohne Objektnummer kein Import.")
    if len(ref) > MAX_REF_LENGTH:
        raise RecordError(f"verwaltung_techn/objektnr_extern ist länger als {MAX_REF_LENGTH} Zeichen.")
    action_element = _child(technical, "aktion")
    action = (action_element.get("aktionart") or "CHANGE").upper() if action_element is not None else "CHANGE"
    if action == "DELETE":
        return PropertyRecord(ref=ref, action="DELETE")
    if action == "REFERENZ":
        raise RecordError("aktion REFERENZ: Referenzobjekte werden nicht importiert.")
    if action not in ("CHANGE", "NEW"):  # NEW: some exporters' spelling of a first transfer
        raise RecordError(f"verwaltung_techn/aktion: unbekannte aktionart „{action}“ (erwartet CHANGE oder DELETE).")
    record = PropertyRecord(ref=ref, action="CHANGE")
    category = _child(item, "objektkategorie")
    kind = _child(category, "objektart")
    if kind is not None and len(kind):
        record.property_type = OBJECT_TYPES.get(_local(kind[0].tag), _local(kind[0].tag).capitalize())
    marketing = _child(category, "vermarktungsart")
    if marketing is not None:
        rent = _flag(marketing.get("MIETE_PACHT"))
        record.key_data["Vermarktungsart"] = "Miete" if rent else "Kauf"
    geo = _child(item, "geo")
    street = " ".join(part for part in (_text(geo, "strasse"), _text(geo, "hausnummer")) if part)
    record.street = street[:200] or None
    record.zip_code = (_text(geo, "plz") or "")[:20] or None
    record.city = (_text(geo, "ort") or "")[:120] or None
    floor = _text(geo, "etage")
    if floor:
        record.key_data["Etage"] = floor[:40]
    prices = _child(item, "preise")
    for element, label, unit in PRICE_FACTS:
        amount = _number(prices, element, "preise")
        if amount is not None:
            record.key_data[label] = f"{number(amount, 0)} {unit}"
    record.price = _number(prices, "kaufpreis", "preise") or _number(prices, "kaltmiete", "preise")
    areas = _child(item, "flaechen")
    record.living_area = _number(areas, "wohnflaeche", "flaechen")
    record.rooms = _number(areas, "anzahl_zimmer", "flaechen")
    for element, label, unit in AREA_FACTS:
        amount = _number(areas, element, "flaechen")
        if amount is not None:
            record.key_data[label] = f"{number(amount, 0)} {unit}".strip()
    state = _child(_child(item, "zustand_angaben"), "verkaufstatus")
    if state is not None:
        record.marketing_status = SALES_STATUS.get((state.get("stand") or "").upper(), "active")
    texts = _child(item, "freitexte")
    record.title = _text(texts, "objekttitel")
    if not record.title:
        raise RecordError("freitexte/objekttitel fehlt: jede Immobilie braucht einen Titel.")
    record.title = record.title[:MAX_TITLE_LENGTH]
    for element, label in TEXTS.items():
        value = _text(texts, element, keep_lines=True)
        if value:
            record.texts[label] = value[:20_000]
    for attachment in _children(_child(item, "anhaenge"), "anhang"):
        path = _text(_child(attachment, "daten"), "pfad")
        if path:
            record.attachments.append(
                Attachment(
                    group=(attachment.get("gruppe") or "").upper(),
                    location=(attachment.get("location") or "INTERN").upper(),
                    path=path,
                    title=_text(attachment, "anhangtitel"),
                    format=_text(attachment, "format"),
                )
            )
    person = _child(item, "kontaktperson")
    record.contact_email = (_text(person, "email_direkt") or _text(person, "email_zentrale") or "").lower() or None
    return record


def _number(parent: Element | None, name: str, section: str) -> Decimal | None:
    text = _text(parent, name)
    if text is None:
        return None
    cleaned = text.replace(" ", "").replace("€", "")
    if "," in cleaned:  # 1.250,50 as some German exporters write it, against the schema's xsd:decimal
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise RecordError(f"{section}/{name}: „{text}“ ist keine Zahl.") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
        raise RecordError(f"{section}/{name}: „{text}“ liegt außerhalb des gültigen Bereichs.")
    return value


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def _parse_xml(body: bytes) -> Element:
    if not body.strip():
        raise OpenImmoFileError("Die Datei ist leer.")
    _check_encoding(body)
    try:
        root: Element = ElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise OpenImmoFileError(
            "Die XML-Datei enthält eine DTD (<!DOCTYPE …>); DTDs werden aus Sicherheitsgründen abgelehnt."
        ) from None
    except (EntitiesForbidden, ExternalReferenceForbidden):
        raise OpenImmoFileError(
            "Die XML-Datei deklariert Entitäten; sie werden aus Sicherheitsgründen abgelehnt "
            "(Entity-Expansion, Zugriff auf lokale Dateien)."
        ) from None
    except DefusedXmlException as exc:
        raise OpenImmoFileError(
            f"Die XML-Datei nutzt ein aus Sicherheitsgründen abgelehntes Konstrukt: {exc}."
        ) from None
    except ParseError as exc:
        raise OpenImmoFileError(f"Die XML-Datei ist fehlerhaft: {exc}.") from None
    except LookupError as exc:
        raise OpenImmoFileError(f"Die XML-Datei nennt eine unbekannte Zeichenkodierung ({exc}).") from None
    return root


def _check_encoding(body: bytes) -> None:
    """Bytes not in the declared (or default UTF-8) encoding are refused with a reason the exporter can act on."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    match = _ENCODING_DECLARATION.match(body.removeprefix(codecs.BOM_UTF8))
    declared = match.group(1).decode("ascii") if match else None
    try:
        codec = codecs.lookup(declared or "utf-8")
    except LookupError:
        raise OpenImmoFileError(f"Die XML-Datei nennt die unbekannte Zeichenkodierung „{declared}“.") from None
    try:
        body.decode(codec.name)
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        said = f"nennt „{declared}“" if declared else "nennt keine Kodierung, also gilt UTF-8"
        raise OpenImmoFileError(
            f"Die XML-Datei {said}, aber Byte 0x{body[exc.start]:02x} in Zeile {line} ist kein gültiges "
            f"{codec.name}. Bitte die tatsächliche Kodierung angeben, z. B. "
            '<?xml version="1.0" encoding="ISO-8859-1"?>.'
        ) from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(parent: Element | None, name: str) -> list[Element]:
    if parent is None:
        return []
    return [child for child in parent if _local(child.tag) == name]


def _child(parent: Element | None, name: str) -> Element | None:
    found = _children(parent, name)
    return found[0] if found else None


def _text(parent: Element | None, name: str, *, keep_lines: bool = False) -> str | None:
    child = _child(parent, name)
    if child is None:
        return None
    text = "".join(child.itertext()).strip()
    if not keep_lines:
        text = " ".join(text.split())
    return text or None
