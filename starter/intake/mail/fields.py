"""Reading "Label: value" blocks, the way portals and website forms write an inquiry into a mail body."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starter.intake.mail.message import MailView

_LINE = re.compile(r"^\s*[*>]*\s*(?P<label>[A-Za-zÄÖÜäöüß][\wÄÖÜäöüß .\-/()]{0,40}?)\s*:[ \t]*(?P<value>.*)$")
_ZIP_CITY = re.compile(r"^(?P<zip>\d{4,5})\s+(?P<city>.+)$")
_SALUTATIONS = ("Herr", "Frau", "Divers")
# Where a prospect's message ends and the portal's footer begins.
_FOOTER = re.compile(
    r"^\s*(?:--\s*|Ihr\s.*Team|Mit freundlichen Grüßen,?\s*(?:Ihr\s)?(?:ImmoScout24|immowelt|Immonet|Kleinanzeigen)\b.*"
    r"|Diese (?:E-Mail|Nachricht) wurde\b.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Field:
    key: str  # the InquiryPayload field, or a pseudo field: "name", "zip_city", "ignore"
    labels: tuple[str, ...]


def fold(label: str) -> str:
    return " ".join(label.lower().replace("-", "").replace(".", "").split())


def read_fields(text: str, fields: Iterable[Field], *, multiline: tuple[str, ...] = ("message",)) -> dict[str, str]:
    """Values by field key. A multi-line field (the message) runs until the next known label."""
    by_label = {fold(label): f.key for f in fields for label in f.labels}
    found: dict[str, str] = {}
    current: str | None = None
    collected: list[str] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        key = by_label.get(fold(match.group("label"))) if match else None
        if match and key is not None:
            if current is not None:
                found.setdefault(current, "\n".join(collected).strip())
                current = None
            value = match.group("value").strip()
            if key in multiline:
                current, collected = key, [value] if value else []
            elif value and key not in found:
                found[key] = value
            continue
        if current is not None:
            if _FOOTER.match(line):
                found.setdefault(current, "\n".join(collected).strip())
                current = None
                continue
            collected.append(line.rstrip())
    if current is not None:
        found.setdefault(current, "\n".join(collected).strip())
    return {k: v for k, v in found.items() if v}


def split_name(value: str) -> dict[str, str]:
    """ "Frau Dr. Erika Mustermann" -> salutation Frau, first name "Dr. Erika", last name Mustermann."""
    words = value.split()
    result: dict[str, str] = {}
    if words and words[0].rstrip(".") in _SALUTATIONS:
        result["salutation"] = words.pop(0).rstrip(".")
    if not words:
        return result
    if "," in value and len(words) >= 2 and words[0].endswith(","):  # "Mustermann, Erika"
        result["last_name"] = words[0].rstrip(",")
        result["first_name"] = " ".join(words[1:])
        return result
    result["last_name"] = words[-1]
    if len(words) > 1:
        result["first_name"] = " ".join(words[:-1])
    return result


def to_payload(values: dict[str, str], mail: MailView, *, source: str, external_id: str | None) -> dict[str, Any]:
    """Field values -> the dict validate_payload takes; names and "PLZ Ort" split, the Message-ID as fallback."""
    data: dict[str, Any] = {k: v for k, v in values.items() if k not in ("name", "zip_city", "ignore")}
    if "name" in values:
        for key, value in split_name(values["name"]).items():
            data.setdefault(key, value)
    if "zip_city" in values:
        match = _ZIP_CITY.match(values["zip_city"])
        if match:
            data.setdefault("zip_code", match.group("zip"))
            data.setdefault("city", match.group("city"))
        else:
            data.setdefault("city", values["zip_city"])
    data["source"] = source
    data["external_id"] = external_id or (mail.message_id or "").strip("<>") or None
    if mail.date is not None:
        data["received_at"] = mail.date.isoformat()
    return data


PERSON_FIELDS = (
    Field("salutation", ("Anrede",)),
    Field("first_name", ("Vorname",)),
    Field("last_name", ("Nachname", "Familienname")),
    Field("name", ("Name", "Ihr Name", "Vor- und Nachname", "Absender")),
    Field("email", ("E-Mail", "Email", "E-Mail-Adresse", "Mail")),
    Field("phone", ("Telefon", "Tel", "Telefonnummer", "Phone")),
    Field("mobile", ("Mobil", "Handy", "Mobilnummer")),
    Field("street", ("Straße", "Strasse", "Straße und Hausnummer", "Adresse")),
    Field("zip_code", ("PLZ", "Postleitzahl")),
    Field("city", ("Ort", "Stadt", "Wohnort")),
    Field("zip_city", ("PLZ/Ort", "PLZ / Ort", "PLZ und Ort")),
    Field("message", ("Nachricht", "Ihre Nachricht", "Mitteilung", "Anfrage", "Kommentar")),
)
