"""Contacts from a CSV file as Excel saves it: preview first, then import, with the office's duplicate check.

Excel writes "CSV (Trennzeichen-getrennt)" in Windows-1252 with `;` on German systems, "CSV UTF-8" with a
byte order mark, `,` on English ones, and "Unicode-Text" as tab-separated UTF-16: all of these are read.
The header row names the columns in German or English (Vorname/First name, PLZ/Zip, …); unknown columns
are listed and ignored. Each row is checked like a contact typed into the form, then against the duplicate
check configured for the inquiry manager (by e-mail, by name + zip code, or off) and against the rows
above it in the same file. The upload is stored first (`contact_imports`), the preview shows what would
happen, and only the confirmation writes contacts, each with its `contact.created` event.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import crm_writes
from db.app_settings import INQUIRY_MANAGER_KEY as CONFIG_KEY
from db.app_settings import load_section
from db.base import utcnow
from db.models import Contact, ContactImport, ContactStatus, ImportStatus
from db.session import SessionFactory
from settings import Settings
from starter.services.contacts import ContactUpdate
from starter.services.context import Services
from starter.services.form_errors import german_problem
from starter.services.media import MediaStore
from workflows.inquiry_models import InquiryManagerConfig

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
PREVIEW_ROWS = 200
SOURCE = "csv-import"
# Normalised header -> field. Normalised: lower case, umlauts folded, everything but letters removed.
COLUMNS = {
    "anrede": "salutation",
    "salutation": "salutation",
    "vorname": "first_name",
    "firstname": "first_name",
    "givenname": "first_name",
    "nachname": "last_name",
    "familienname": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "name": "name",
    "email": "email",
    "emailadresse": "email",
    "mail": "email",
    "emailaddress": "email",
    "telefon": "phone",
    "telefonnummer": "phone",
    "tel": "phone",
    "phone": "phone",
    "telefonprivat": "phone",
    "mobil": "mobile",
    "mobilnummer": "mobile",
    "handy": "mobile",
    "mobile": "mobile",
    "mobiltelefon": "mobile",
    "mobilephone": "mobile",
    "handynummer": "mobile",
    "homephone": "phone",
    "phonenumber": "phone",
    "telephone": "phone",
    "strasse": "street",
    "street": "street",
    "adresse": "street",
    "strassehausnummer": "street",
    "hausnummer": "house_number",
    "hausnr": "house_number",
    "nr": "house_number",
    "plz": "zip_code",
    "postleitzahl": "zip_code",
    "zip": "zip_code",
    "zipcode": "zip_code",
    "postalcode": "zip_code",
    "ort": "city",
    "stadt": "city",
    "wohnort": "city",
    "city": "city",
    "geburtstag": "birthday",
    "geburtsdatum": "birthday",
    "birthday": "birthday",
    "dateofbirth": "birthday",
    "newsletter": "newsletter",
    "status": "status",
}
FIELD_LABELS = {
    "salutation": "Anrede",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "name": "Name",
    "email": "E-Mail",
    "phone": "Telefon",
    "mobile": "Mobil",
    "street": "Straße",
    "house_number": "Hausnummer",
    "zip_code": "PLZ",
    "city": "Ort",
    "birthday": "Geburtstag",
    "newsletter": "Newsletter",
    "status": "Status",
}
STATUS_WORDS = {
    "interessent": ContactStatus.PROSPECT,
    "prospect": ContactStatus.PROSPECT,
    "kunde": ContactStatus.CUSTOMER,
    "customer": ContactStatus.CUSTOMER,
    "eigentumer": ContactStatus.OWNER,
    "eigentuemer": ContactStatus.OWNER,
    "owner": ContactStatus.OWNER,
}
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})


class CsvError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportNotFoundError(CsvError):
    """The import the caller names does not exist."""


@dataclass
class CsvRow:
    line: int
    values: dict[str, Any]
    outcome: str = "new"  # new | duplicate | error
    reason: str | None = None
    duplicate_of: int | None = None
    contact_id: int | None = None


@dataclass
class ParsedCsv:
    encoding: str
    delimiter: str
    columns: dict[str, str]  # header as written -> field
    ignored: list[str]
    rows: list[CsvRow]


@dataclass
class CsvReport:
    encoding: str
    delimiter: str
    duplicate_check: str
    columns: dict[str, str]
    ignored: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the first PREVIEW_ROWS, then only the non-new
    created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _normalise(header: str) -> str:
    folded = unicodedata.normalize("NFKD", header.strip().lower().translate(_FOLD))
    return re.sub(r"[^a-z]", "", folded.encode("ascii", "ignore").decode("ascii"))


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was in."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        # Excel's "CSV (Trennzeichen-getrennt)" on a German Windows; every byte sequence decodes in it except
        # five unused positions, which become U+FFFD instead of failing the file.
        return data.decode("cp1252", errors="replace"), "Windows-1252"


def parse_csv(data: bytes) -> ParsedCsv:
    if not data.strip():
        raise CsvError("Die Datei ist leer.")
    if len(data) > MAX_CSV_BYTES:
        raise CsvError(f"Die Datei ist größer als {MAX_CSV_BYTES // 2**20} MB.")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise CsvError(
            "Das ist eine Excel-Arbeitsmappe (.xlsx/.xls), keine CSV-Datei: in Excel „Speichern unter → CSV“."
        )
    text, encoding = decode(data)
    header_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max((";", ",", "\t"), key=header_line.count)
    if header_line.count(delimiter) == 0:
        raise CsvError(
            "Die erste Zeile hat nur eine Spalte: erwartet sind Spaltenüberschriften, getrennt mit ; oder ,."
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except csv.Error as exc:
        raise CsvError(f"Die Kopfzeile ist fehlerhaft ({exc}).") from None
    columns: dict[str, str] = {}
    positions: dict[int, str] = {}
    ignored: list[str] = []
    for position, header in enumerate(headers):
        target = COLUMNS.get(_normalise(header))
        if target is None or target in columns.values():
            if header.strip():
                ignored.append(header.strip())
            continue
        columns[header.strip()] = target
        positions[position] = target
    if "last_name" not in columns.values() and "name" not in columns.values():
        raise CsvError(
            "Keine Spalte für den Namen gefunden (erwartet z. B. „Nachname“ oder „Name“). "
            f"Gefundene Spalten: {', '.join(h.strip() for h in headers if h.strip())}."
        )
    rows: list[CsvRow] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvError(f"Die Datei hat mehr als {MAX_ROWS} Zeilen; bitte aufteilen.")
            values = {name: record[i].strip() for i, name in positions.items() if i < len(record)}
            rows.append(_row(reader.line_num, values))
    except csv.Error as exc:
        raise CsvError(f"Zeile {reader.line_num} ist fehlerhaft ({exc}).") from None
    return ParsedCsv(encoding=encoding, delimiter=delimiter, columns=columns, ignored=ignored, rows=rows)


def _row(line: int, values: dict[str, str]) -> CsvRow:
    raw = dict(values)
    if "name" in values and not values.get("last_name"):
        first, _, last = values.pop("name").rpartition(" ")
        values["last_name"] = last
        values.setdefault("first_name", first)
    values.pop("name", None)
    if number := values.pop("house_number", ""):
        values["street"] = f"{values.get('street', '')} {number}".strip()
    row = CsvRow(line=line, values=raw)
    try:
        data: dict[str, Any] = {key: value for key, value in values.items() if value}
        data["birthday"] = _date(values.get("birthday", ""))
        data["newsletter"] = values.get("newsletter", "").strip().lower() in (
            "1",
            "ja",
            "x",
            "true",
            "yes",
            "j",
            "wahr",
        )
        status = STATUS_WORDS.get(_normalise(values.get("status", "")))
        data["status"] = status or ContactStatus.PROSPECT
        row.values = ContactUpdate(**data).model_dump(mode="json")
    except (ValidationError, ValueError) as exc:
        row.outcome, row.reason = "error", _reason(exc)
    return row


def _date(value: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    for pattern in ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if parsed.year < 1900 or parsed > date.today():
            raise ValueError(f"Geburtstag: „{value}“ liegt außerhalb des gültigen Bereichs")
        return parsed
    raise ValueError(f"Geburtstag: „{value}“ ist kein Datum (erwartet z. B. 24.12.1980)")


def _reason(exc: Exception) -> str:
    return german_problem(exc, FIELD_LABELS) if isinstance(exc, ValidationError) else str(exc)


async def check_duplicates(session: AsyncSession, rows: list[CsvRow], mode: str) -> None:
    """Mark rows that duplicate an existing (not archived) contact or an earlier row, under MODE."""
    seen_emails: dict[str, int] = {}
    seen_names: dict[tuple[str, str, str], int] = {}
    active = Contact.status != ContactStatus.ARCHIVED
    for row in rows:
        if row.outcome == "error" or mode == "off":
            continue
        values = row.values
        email = values.get("email")
        name_key = (
            (values.get("first_name") or "").lower(),
            (values.get("last_name") or "").lower(),
            values.get("zip_code") or "",
        )
        if email:
            if email in seen_emails:
                row.outcome, row.reason = "duplicate", f"E-Mail-Adresse wie in Zeile {seen_emails[email]}"
                continue
            found = await session.scalar(
                select(Contact.id).where(active, Contact.email == email).order_by(Contact.id).limit(1)
            )
            if found is not None:
                row.outcome, row.duplicate_of = "duplicate", found
                row.reason = f"E-Mail-Adresse bereits bei Kontakt #{found}"
                continue
            seen_emails[email] = row.line
        if mode == "name_zip" and name_key[0] and name_key[2]:
            if name_key in seen_names:
                row.outcome, row.reason = "duplicate", f"Name und PLZ wie in Zeile {seen_names[name_key]}"
                continue
            found = await session.scalar(
                select(Contact.id)
                .where(
                    active,
                    func.lower(Contact.first_name) == name_key[0],
                    func.lower(Contact.last_name) == name_key[1],
                    Contact.zip_code == name_key[2],
                )
                .order_by(Contact.id)
                .limit(1)
            )
            if found is not None:
                row.outcome, row.duplicate_of = "duplicate", found
                row.reason = f"Name und PLZ stimmen mit Kontakt #{found} überein"
                continue
            seen_names[name_key] = row.line


def _report(parsed: ParsedCsv, mode: str) -> CsvReport:
    counts = {
        outcome: sum(1 for row in parsed.rows if row.outcome == outcome) for outcome in ("new", "duplicate", "error")
    }
    shown = [asdict(row) for row in parsed.rows[:PREVIEW_ROWS]]
    shown += [asdict(row) for row in parsed.rows[PREVIEW_ROWS:] if row.outcome != "new"][:PREVIEW_ROWS]
    return CsvReport(
        encoding=parsed.encoding,
        delimiter={";": ";", ",": ",", "\t": "Tab"}[parsed.delimiter],
        duplicate_check=mode,
        columns=parsed.columns,
        ignored=parsed.ignored,
        counts=counts,
        rows=shown,
    )


class ContactCsvImporter:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._media = MediaStore(settings.data_dir)
        self._data_dir = settings.data_dir

    async def preview(self, data: bytes, filename: str, user_id: int | None) -> ContactImport:
        """Store the file, then parse and check it; nothing is written to the contacts yet."""
        async with self._sessions.begin() as session:
            row = ContactImport(
                filename=(PurePosixPath(filename.replace("\\", "/")).name or "kontakte.csv")[:300],
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                stored_path="",
                user_id=user_id,
                status=ImportStatus.RECEIVED,
                report={},
            )
            session.add(row)
            await session.flush()
            row.stored_path = self._media.save_upload("contacts", row.id, data, ".csv")
        async with self._sessions.begin() as session:
            stored = await session.get(ContactImport, row.id)
            assert stored is not None
            try:
                parsed = parse_csv(data)
            except CsvError as exc:
                stored.status, stored.error, stored.finished_at = ImportStatus.REFUSED, exc.reason, utcnow()
                return stored
            mode = (await load_section(session, CONFIG_KEY, InquiryManagerConfig)).duplicate_check
            await check_duplicates(session, parsed.rows, mode)
            stored.status, stored.encoding, stored.delimiter = ImportStatus.PREVIEW, parsed.encoding, parsed.delimiter
            stored.report = _report(parsed, mode).as_dict()
            return stored

    async def confirm(self, import_id: int) -> ContactImport:
        """Write the new rows (checked again: the office may have changed meanwhile); a second confirm is refused."""
        async with self._sessions.begin() as session:
            row = await session.get(ContactImport, import_id, with_for_update=True)
            if row is None:
                raise ImportNotFoundError(f"Import #{import_id} existiert nicht.")
            if row.status != ImportStatus.PREVIEW:
                raise CsvError(
                    "Dieser Import ist bereits abgeschlossen."
                    if row.status == ImportStatus.DONE
                    else "Dieser Import wurde abgelehnt."
                )
            parsed = parse_csv((self._data_dir / row.stored_path).read_bytes())
            mode = (await load_section(session, CONFIG_KEY, InquiryManagerConfig)).duplicate_check
            await check_duplicates(session, parsed.rows, mode)
            for csv_row in parsed.rows:
                if csv_row.outcome == "new":
                    contact = await crm_writes.add_contact(session, Contact(**_contact_values(csv_row.values)))
                    csv_row.contact_id = contact.id
            report = _report(parsed, mode)
            report.created = report.counts["new"]
            row.status, row.report, row.finished_at = ImportStatus.DONE, report.as_dict(), utcnow()
            return row


RECENT_IMPORTS = 20  # the import page lists the latest; older reports stay reachable by their URL


async def recent_contact_imports(services: Services) -> list[ContactImport]:
    """The latest CSV imports, newest first, for the import page."""
    async with services.sessions() as session:
        query = select(ContactImport).order_by(ContactImport.id.desc()).limit(RECENT_IMPORTS)
        return list(await session.scalars(query))


async def get_contact_import(services: Services, import_id: int) -> ContactImport | None:
    """One CSV import with its preview or report; None when there is none."""
    async with services.sessions() as session:
        return await session.get(ContactImport, import_id)


async def preview_contact_import(services: Services, data: bytes, filename: str, user_id: int | None) -> ContactImport:
    """Store an uploaded CSV file and check it (ContactCsvImporter.preview); a refused file is an import too."""
    return await ContactCsvImporter(services.sessions, services.settings).preview(data, filename, user_id)


async def confirm_contact_import(services: Services, import_id: int) -> ContactImport:
    """Write the previewed contacts (ContactCsvImporter.confirm); ImportNotFoundError or CsvError when refused."""
    return await ContactCsvImporter(services.sessions, services.settings).confirm(import_id)


def _contact_values(values: dict[str, Any]) -> dict[str, Any]:
    data = ContactUpdate(**values).model_dump()
    return {**data, "source": SOURCE}
