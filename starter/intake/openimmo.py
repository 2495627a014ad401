"""OpenImmo-Feedback XML (the format portals mail inquiries in) -> InquiryPayload.

    <openimmo_feedback>
      <version>1.2.7</version>
      <sender><name>ImmobilienScout24</name><openimmo_anid/><datum>11.11.2011</datum>…</sender>
      <objekt>
        <portal_unique_id/><portal_obj_id/><anbieter_id/><oobj_id>W-1001</oobj_id>…
        <interessent>
          <int_id/><anrede/><vorname/><nachname/><strasse/><plz/><ort/><tel/><mobil/><email/><anfrage/>…
        </interessent>
      </objekt>
    </openimmo_feedback>

Only the fields the inquiry manager uses are taken; the raw document (kept by the intake) has the rest.
Parsing goes through defusedxml: entity declarations (billion laughs, external entities) are refused.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden

from starter.intake.payload import DEFAULT_TIME_ZONE, InquiryPayload, PayloadError, source_slug, validate_payload

ROOT = "openimmo_feedback"
DEFAULT_SOURCE = "openimmo"
# The office's own object ID first; the provider's and the portal's numbers are what is left when it is empty.
PROPERTY_REF_ELEMENTS = ("oobj_id", "anbieter_id", "portal_obj_id")
# Reasons name the XML elements the sender wrote, not our field names.
FIELD_ELEMENTS = {
    "source": "sender/name",
    "external_id": "interessent/int_id",
    "received_at": "sender/datum",
    "salutation": "interessent/anrede",
    "first_name": "interessent/vorname",
    "last_name": "interessent/nachname",
    "email": "interessent/email",
    "phone": "interessent/tel",
    "mobile": "interessent/mobil",
    "street": "interessent/strasse",
    "zip_code": "interessent/plz",
    "city": "interessent/ort",
    "message": "interessent/anfrage",
}
_ENCODING_DECLARATION = re.compile(rb"""\A\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def parse_feedback(
    body: bytes,
    *,
    source: str | None = None,
    mailbox: str | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> InquiryPayload:
    """Parse one OpenImmo-Feedback document; PayloadError (400 unreadable, 422 incomplete) otherwise.

    SOURCE overrides the portal named in <sender><name>; MAILBOX is the mailbox the document arrived in
    (the XML does not say).
    """
    root = _parse_xml(body)
    if _local(root.tag) != ROOT:
        raise PayloadError(f"Expected an OpenImmo-Feedback document with root <{ROOT}>, got <{_local(root.tag)}>.")
    sender = _child(root, "sender")
    objects = _children(root, "objekt")
    prospects = [prospect for objekt in objects for prospect in _children(objekt, "interessent")]
    if not objects or not prospects:
        raise PayloadError("The document contains no <objekt> with an <interessent>: there is no inquiry in it.")
    if len(prospects) > 1:
        # One document, one inquiry and one answer: several prospects must arrive as separate documents.
        raise PayloadError(f"The document contains {len(prospects)} inquiries (<interessent>); send one per document.")
    objekt = objects[0] if len(objects) == 1 else next(o for o in objects if _children(o, "interessent"))
    prospect = prospects[0]

    property_element, property_ref = _first_text(objekt, PROPERTY_REF_ELEMENTS)
    data: dict[str, object] = {
        "source": source or _source_of(sender),
        "external_id": _external_id(sender, objekt, prospect),
        "mailbox": mailbox,
        "property_ref": property_ref,
        "received_at": _text(sender, "datum"),
        "salutation": _text(prospect, "anrede"),
        "first_name": _text(prospect, "vorname"),
        "last_name": _text(prospect, "nachname"),
        "email": _text(prospect, "email"),
        "phone": _text(prospect, "tel"),
        "mobile": _text(prospect, "mobil"),
        "street": _text(prospect, "strasse"),
        "zip_code": _text(prospect, "plz"),
        "city": _text(prospect, "ort"),
        "message": _text(prospect, "anfrage"),
    }
    names = {**FIELD_ELEMENTS, "property_ref": f"objekt/{property_element}", "mailbox": "mailbox parameter"}
    if source:
        names["source"] = "source parameter"
    return validate_payload(data, time_zone=time_zone, field_names=names)


def _parse_xml(body: bytes) -> Element:
    if not body.strip():
        raise PayloadError("The body is empty; expected an OpenImmo-Feedback XML document.", status_code=400)
    _check_encoding(body)
    try:
        root: Element = ElementTree.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except EntitiesForbidden as exc:
        if exc.sysid:
            raise PayloadError(
                f"XML external entities are refused (entity {exc.name!r} points to {exc.sysid!r}): "
                "they can read local files or reach internal servers.",
                status_code=400,
            ) from None
        raise PayloadError(
            f"XML entity declarations are refused (entity {exc.name!r}): "
            "they enable entity-expansion attacks ('billion laughs').",
            status_code=400,
        ) from None
    except ExternalReferenceForbidden as exc:
        raise PayloadError(
            f"XML references to external resources are refused ({exc.sysid!r}).", status_code=400
        ) from None
    except DefusedXmlException as exc:
        raise PayloadError(f"The XML uses a construct that is refused for safety: {exc}.", status_code=400) from None
    except ParseError as exc:
        raise PayloadError(f"Malformed XML: {exc}.", status_code=400) from None
    except LookupError as exc:  # expat met an encoding name Python does not know
        raise PayloadError(f"The XML declares an unknown encoding ({exc}).", status_code=400) from None
    return root


def _check_encoding(body: bytes) -> None:
    """Refuse bytes that are not in the declared (or default UTF-8) encoding, with a reason a sender can act on.

    expat would only say 'not well-formed (invalid token)' for a Latin-1 umlaut in an undeclared document.
    """
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return  # expat reads UTF-16 by its byte order mark
    match = _ENCODING_DECLARATION.match(body.removeprefix(codecs.BOM_UTF8))
    declared = match.group(1).decode("ascii") if match else None
    try:
        codec = codecs.lookup(declared or "utf-8")
    except LookupError:
        raise PayloadError(
            f"The XML declares the unknown encoding {declared!r}; use UTF-8 (or e.g. ISO-8859-1).", status_code=400
        ) from None
    try:
        body.decode(codec.name)
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        said = f"declares {declared!r}" if declared else "declares no encoding, so UTF-8 applies"
        raise PayloadError(
            f"The document is not in the encoding it names: it {said}, but byte 0x{body[exc.start]:02x} "
            f"(line {line}) is not valid {codec.name}. Declare the real encoding, e.g. "
            '<?xml version="1.0" encoding="ISO-8859-1"?>, or send UTF-8.',
            status_code=400,
        ) from None


def _source_of(sender: Element | None) -> str:
    name = _text(sender, "name") or _text(sender, "openimmo_anid")
    return source_slug(name) if name and source_slug(name) else DEFAULT_SOURCE


def _external_id(sender: Element | None, objekt: Element, prospect: Element) -> str:
    """The portal's inquiry ID (int_id) when it sends one.

    Otherwise a fingerprint of what identifies this inquiry: the portal's IDs alone name the listing, not
    the inquiry, and would merge different prospects into one; the same document resent still maps to the
    same ID, so a repeated delivery stays a duplicate. The portal's unique ID is kept readable in front.
    """
    int_id = _text(prospect, "int_id")
    if int_id:
        return int_id
    identity = [
        _text(sender, "name"),
        _text(sender, "datum"),
        *(_text(objekt, name) for name in ("portal_unique_id", "portal_obj_id", "anbieter_id", "oobj_id")),
        (_text(prospect, "email") or "").lower(),
        _text(prospect, "vorname"),
        _text(prospect, "nachname"),
        " ".join((_text(prospect, "anfrage") or "").split()),
    ]
    digest = hashlib.sha256("\x1f".join(part or "" for part in identity).encode("utf-8")).hexdigest()[:20]
    portal_id = _text(objekt, "portal_unique_id")
    return f"{'_'.join(portal_id.split())[:100]}.{digest}" if portal_id else f"oi.{digest}"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(parent: Element | None, name: str) -> list[Element]:
    if parent is None:
        return []
    return [child for child in parent if _local(child.tag) == name]


def _child(parent: Element | None, name: str) -> Element | None:
    found = _children(parent, name)
    return found[0] if found else None


def _text(parent: Element | None, name: str) -> str | None:
    child = _child(parent, name)
    if child is None:
        return None
    text = "".join(child.itertext()).strip()
    return text or None


def _first_text(parent: Element, names: tuple[str, ...]) -> tuple[str, str | None]:
    for name in names:
        value = _text(parent, name)
        if value:
            return name, value
    return names[0], None
