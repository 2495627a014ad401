"""The one shape of an inbound portal inquiry, whichever channel it came through (JSON API, OpenImmo, CLI).

Validation is deliberately strict about what the follow-up process depends on (a usable email address,
the business key source + external id) and lenient about free text, because a rejected inquiry is a
prospect nobody answers. Every rejection is therefore phrased so an operator can fix and resend it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from messaging.addresses import checked

# Naive timestamps ("11.11.2011 14:30") are office-local; the service passes settings.time_zone here.
TIME_ZONE_CONTEXT_KEY = "time_zone"
DEFAULT_TIME_ZONE = "Europe/Berlin"

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit minus the angle brackets

# Labels: letters, digits, inner hyphens, at most 63 characters; the TLD is alphabetic or punycode.
_DOMAIN = re.compile(
    r"(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})",
    re.IGNORECASE,
)
# C0/C1 control characters (tab and newline excepted, they are whitespace) break mail headers and Postgres.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")
_GERMAN_DATE = re.compile(
    r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"
    r"(?:[ ,T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
)
_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


class PayloadError(ValueError):
    """The body cannot become an inquiry; REASON is what the caller and the quarantine table are told."""

    def __init__(self, reason: str, *, status_code: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


def utcnow() -> datetime:
    return datetime.now(UTC)


def source_slug(value: str) -> str:
    """'ImmobilienScout24.de' -> 'immobilienscout24_de'.

    Underscores, never hyphens: the workflow ID is inquiry-<source>-<external id>, and a hyphen-free
    source keeps that ID unambiguous (no two (source, external id) pairs can share a workflow ID).
    """
    folded = unicodedata.normalize("NFKD", value.strip().lower().translate(_TRANSLITERATION))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii")
    return _SLUG_SEPARATORS.sub("_", ascii_only).strip("_")


def normalise_email(value: str) -> str:
    """Lower-cased address after a careful syntax check; raises ValueError with a readable reason."""
    address = value.strip()
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :]
    if not address:
        raise ValueError("must not be empty")
    if len(address) > MAX_EMAIL_LENGTH:
        raise ValueError(f"is too long (at most {MAX_EMAIL_LENGTH} characters)")
    if address.count("@") != 1:
        raise ValueError(f"{address!r} is not an email address (expected exactly one '@')")
    if not address.split("@")[0].isascii():
        raise ValueError(f"{address!r}: non-ASCII characters before the '@' are not supported")
    try:
        # email-validator (RFC 5321/5322, IDNA 2008): umlaut domains (müller.de) are real and are sent in
        # their ASCII form; what no SMTP server takes is refused here, not in a workflow that retries.
        info = checked(address, smtputf8=False, strict=True)
    except EmailNotValidError as exc:
        raise ValueError(f"{address!r} is not a valid email address ({exc})") from None
    if not _DOMAIN.fullmatch(info.ascii_domain):  # stricter than RFC: no one-letter or numeric TLDs
        raise ValueError(f"{address!r} is not a valid email address (invalid domain)")
    local, domain = info.local_part, info.domain
    return f"{local}@{domain}".lower()


def parse_received_at(value: object, time_zone: str = DEFAULT_TIME_ZONE) -> datetime:
    """ISO 8601 (2011-11-11, 2011-11-11T14:30:00+01:00) or German (11.11.2011, 11.11.2011 14:30) -> UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        german = _GERMAN_DATE.fullmatch(text)
        try:
            if german:
                day, month, year, hour, minute, second = (
                    int(german.group(name) or 0) for name in ("day", "month", "year", "hour", "minute", "second")
                )
                parsed = datetime(year, month, day, hour, minute, second)
            else:
                parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a valid date (expected e.g. 2011-11-11, 2011-11-11T14:30:00+01:00, "
                "11.11.2011 or 11.11.2011 14:30)"
            ) from None
    else:
        raise ValueError("must be a date string such as 2011-11-11 or 11.11.2011 14:30")
    if parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(time_zone))
        except ZoneInfoNotFoundError:
            parsed = parsed.replace(tzinfo=ZoneInfo(DEFAULT_TIME_ZONE))
    return parsed.astimezone(UTC)


def _loose_date_schema(schema: dict[str, Any]) -> None:
    # Not "format: date-time": German dates are accepted too, and generated clients must not refuse them.
    schema.pop("format", None)
    schema["examples"] = ["2011-11-11T14:30:00+01:00", "2011-11-11", "11.11.2011 14:30", "11.11.2011"]


def _clean_line(value: object) -> object:
    """One-line text: whitespace collapsed, empty means absent, control characters refused."""
    if not isinstance(value, str):
        return value
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    return " ".join(value.split()) or None


def _clean_text(value: object) -> object:
    """Multi-line text (the prospect's message): line breaks kept, other control characters refused."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        raise ValueError("contains control characters")
    return text.strip() or None


class InquiryPayload(BaseModel):
    """A portal inquiry as received. Names and texts are length-limited to what the CRM columns hold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="InquiryPayload")

    source: str = Field(
        min_length=1, max_length=60, description="Portal, normalised to a slug: 'ImmoScout24' -> 'immoscout24'."
    )
    external_id: str = Field(
        min_length=1, max_length=200, description="The portal's message/inquiry ID; with source the business key."
    )
    mailbox: str | None = Field(None, max_length=254, description="The receiving mailbox (its main user decides).")
    property_ref: str | None = Field(None, max_length=64, description="The office's property number, e.g. W-1001.")
    salutation: str | None = Field(None, max_length=40, description="Herr, Frau, Divers, …")
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    email: str = Field(max_length=MAX_EMAIL_LENGTH, description="The prospect's email address (stored lower-case).")
    phone: str | None = Field(None, max_length=40)
    mobile: str | None = Field(None, max_length=40)
    street: str | None = Field(None, max_length=200)
    zip_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    message: str | None = Field(None, max_length=10_000, description="The prospect's message text.")
    received_at: datetime = Field(
        default_factory=utcnow,
        description="ISO 8601, or 11.11.2011 / 11.11.2011 14:30 (office time zone); default: now.",
        json_schema_extra=_loose_date_schema,
    )

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> object:
        if isinstance(value, str):
            slug = source_slug(value)
            if value.strip() and not slug:
                raise ValueError(f"{value!r} has no letters or digits to name a portal by")
            return slug
        return value

    @field_validator("external_id", mode="before")
    @classmethod
    def _external_id(cls, value: object) -> object:
        if isinstance(value, str):
            if _CONTROL.search(value):
                raise ValueError("contains control characters")
            # The ID ends up in a Temporal workflow ID, where whitespace only causes confusion.
            return "_".join(value.split())
        return value

    @field_validator("email", "mailbox", mode="before")
    @classmethod
    def _email(cls, value: object) -> object:
        if isinstance(value, str):
            return normalise_email(value) if value.strip() else None
        return value

    @field_validator(
        "property_ref", "salutation", "first_name", "last_name", "phone", "mobile", "street", "zip_code", "city",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _line(cls, value: object) -> object:
        return _clean_line(value)

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: object) -> object:
        return _clean_text(value)

    @field_validator("received_at", mode="before")
    @classmethod
    def _received_at(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            return utcnow()
        context = info.context if isinstance(info.context, dict) else {}
        return parse_received_at(value, str(context.get(TIME_ZONE_CONTEXT_KEY, DEFAULT_TIME_ZONE)))

    def prospect_data(self) -> dict[str, Any]:
        """What goes into Inquiry.prospect: the prospect as the portal sent it (keys match the Contact model)."""
        return self.model_dump(
            include={
                "salutation", "first_name", "last_name", "email", "phone", "mobile", "street", "zip_code", "city",
            }
        )  # fmt: skip


def validate_payload(data: object, *, time_zone: str, field_names: dict[str, str] | None = None) -> InquiryPayload:
    """Validate DATA into an InquiryPayload or raise PayloadError with every problem in one sentence.

    FIELD_NAMES renames fields in the reason (the OpenImmo parser names the XML elements instead).
    """
    if not isinstance(data, dict):
        raise PayloadError(f"Expected a JSON object with the inquiry's fields, got {type(data).__name__}.")
    try:
        return InquiryPayload.model_validate(data, context={TIME_ZONE_CONTEXT_KEY: time_zone})
    except ValidationError as exc:
        raise PayloadError("Invalid inquiry: " + describe_errors(exc, field_names or {}) + ".") from None


def describe_errors(exc: ValidationError, field_names: dict[str, str]) -> str:
    return "; ".join(_describe(error, field_names) for error in exc.errors(include_url=False))


def _describe(error: Any, field_names: dict[str, str]) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "body"
    where = field_names.get(loc, loc)
    kind = error["type"]
    if kind == "missing":
        return f"{where} is required"
    if kind == "extra_forbidden":
        return f"{where} is not a known field"
    if kind == "string_type" and error.get("input") is None:
        return f"{where} is required"
    if kind == "string_type":
        return f"{where} must be a string (got {type(error.get('input')).__name__})"
    if kind == "string_too_long":
        return f"{where} is too long (at most {error['ctx']['max_length']} characters)"
    if kind == "string_too_short":
        return f"{where} must not be empty"
    if kind == "value_error":
        return f"{where} {error['ctx']['error']}"
    return f"{where}: {error['msg']}"


def has_lone_surrogate(value: Any) -> bool:
    """True when a decoded JSON value holds a str with an unpaired surrogate (0xD800–0xDFFF)."""
    if isinstance(value, str):
        return any(0xD800 <= ord(char) <= 0xDFFF for char in value)
    if isinstance(value, list):
        return any(has_lone_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(has_lone_surrogate(key) or has_lone_surrogate(item) for key, item in value.items())
    return False


def parse_json(body: bytes, *, time_zone: str = DEFAULT_TIME_ZONE) -> InquiryPayload:
    """A JSON request body -> InquiryPayload; read by hand so invalid JSON is stored and quarantined too."""
    if not body.strip():
        raise PayloadError("The body is empty; expected a JSON object with the inquiry's fields.", status_code=400)
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")  # RFC 8259: JSON between systems is UTF-8
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"The body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); JSON must be UTF-8.",
            status_code=400,
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.", status_code=400
        ) from None
    except (ValueError, RecursionError) as exc:  # absurd nesting or numbers: still the caller's mistake
        raise PayloadError(f"The body is not usable JSON ({type(exc).__name__}).", status_code=400) from None
    if has_lone_surrogate(data):  # "\ud800" decodes, but no column or mail can hold it
        raise PayloadError("The body contains an unpaired UTF-16 surrogate escape (such as \\ud800).")
    return validate_payload(data, time_zone=time_zone)
