"""Contacts CSV import as Excel saves it: encodings, delimiters, preview, duplicate check, report."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from db.app_settings import INQUIRY_MANAGER_KEY as CONFIG_KEY
from db.app_settings import save_section
from db.models import Contact, ContactImport, DomainEvent, ImportStatus
from db.session import SessionFactory
from settings import Settings
from starter.services.contact_csv import ContactCsvImporter, CsvError, parse_csv
from tests import factories
from tests.http import app_client
from workflows.inquiry_models import InquiryManagerConfig

DATA = Path(__file__).resolve().parents[1] / "data" / "contacts_csv"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_utf8_with_bom_and_semicolons() -> None:
    parsed = parse_csv(fixture("excel-utf8-bom-semikolon.csv"))
    assert (parsed.encoding, parsed.delimiter) == ("UTF-8 (BOM)", ";")
    assert parsed.ignored == ["Bemerkung"]
    first, second = parsed.rows[0], parsed.rows[1]
    assert first.values["first_name"] == "Jürgen-Maria" and first.values["last_name"] == "Müller-Lüdenscheidt"
    assert first.values["email"] == "jm.mueller@example.com"
    assert first.values["street"] == "Schönhauser Allee 12a"
    assert first.values["birthday"] == "1980-12-24" and first.values["newsletter"] is True
    assert second.values["last_name"] == "Öztürk" and second.values["newsletter"] is False
    reasons = {row.line: row.reason or "" for row in parsed.rows if row.outcome == "error"}
    assert sorted(reasons.values()) == [
        "E-Mail: keine gültige E-Mail-Adresse",
        "Geburtstag: „31.02.1980“ ist kein Datum (erwartet z. B. 24.12.1980)",
        "Nachname: bitte angeben",
    ]


def test_windows_1252_as_german_excel_writes_it() -> None:
    parsed = parse_csv(fixture("excel-windows1252-semikolon.csv"))
    assert (parsed.encoding, parsed.delimiter) == ("Windows-1252", ";")
    assert [row.values["last_name"] for row in parsed.rows] == ["Weiß", "Façade"]
    assert parsed.rows[0].values["city"] == "München" and parsed.rows[0].values["newsletter"] is True
    assert parsed.rows[1].values["street"] == "Rue de l’Église 1"
    assert parsed.ignored == ["Budget"]


def test_commas_english_headers_and_unicode_text() -> None:
    parsed = parse_csv(fixture("excel-utf8-komma.csv"))
    assert parsed.delimiter == ","
    assert parsed.rows[0].values["mobile"] == "+44 7700 900123" and parsed.rows[0].values["zip_code"] == "SW1A 1AA"
    assert parsed.ignored == ["Company"] and all(row.outcome == "new" for row in parsed.rows)
    text = parse_csv(fixture("excel-unicode-text.txt"))
    assert (text.encoding, text.delimiter) == ("UTF-16", "\t")
    assert text.rows[0].values["first_name"] == "Ürsula"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "Die Datei ist leer."),
        (b"PK\x03\x04xlsx", "Excel-Arbeitsmappe"),
        (b"nur eine Spalte\r\nwert\r\n", "nur eine Spalte"),
        (fixture("ohne-namensspalte.csv"), "Keine Spalte für den Namen"),
    ],
)
def test_files_that_are_no_contact_list(data: bytes, reason: str) -> None:
    with pytest.raises(CsvError) as refused:
        parse_csv(data)
    assert reason in refused.value.reason


async def test_preview_then_confirm_with_the_configured_duplicate_check(
    sessions: SessionFactory, settings: Settings
) -> None:
    known = await factories.contact(sessions)  # klara@example.com
    importer = ContactCsvImporter(sessions, settings)
    preview = await importer.preview(fixture("excel-utf8-bom-semikolon.csv"), "kunden.csv", None)
    assert preview.status == ImportStatus.PREVIEW
    assert preview.report["counts"] == {"new": 2, "duplicate": 2, "error": 3}
    duplicates = [row for row in preview.report["rows"] if row["outcome"] == "duplicate"]
    assert duplicates[0]["duplicate_of"] == known.id
    assert duplicates[1]["reason"] == "E-Mail-Adresse wie in Zeile 2"
    async with sessions() as session:
        assert len(list(await session.scalars(select(Contact)))) == 1  # a preview writes nothing

    done = await importer.confirm(preview.id)
    assert done.status == ImportStatus.DONE and done.report["created"] == 2
    async with sessions() as session:
        made = list(await session.scalars(select(Contact).where(Contact.source == "csv-import").order_by(Contact.id)))
        assert [c.last_name for c in made] == ["Müller-Lüdenscheidt", "Öztürk"]
        events = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "contact.created")))
        assert sorted(event.payload["contact_id"] for event in events) == [c.id for c in made]
    with pytest.raises(CsvError, match="bereits abgeschlossen"):
        await importer.confirm(preview.id)

    # The same file again: everything is a duplicate now.
    again = await importer.preview(fixture("excel-utf8-bom-semikolon.csv"), "kunden.csv", None)
    assert again.report["counts"] == {"new": 0, "duplicate": 4, "error": 3}


async def test_name_and_zip_or_no_duplicate_check(sessions: SessionFactory, settings: Settings) -> None:
    await factories.contact(sessions, first_name="Gülten", last_name="Weiß", email="other@example.de", zip_code="80539")
    importer = ContactCsvImporter(sessions, settings)
    by_name = await importer.preview(fixture("excel-windows1252-semikolon.csv"), "a.csv", None)
    assert by_name.report["duplicate_check"] == "name_zip" and by_name.report["counts"]["duplicate"] == 1
    async with sessions.begin() as session:
        await save_section(session, CONFIG_KEY, InquiryManagerConfig(duplicate_check="email"))
    by_email = await importer.preview(fixture("excel-windows1252-semikolon.csv"), "a.csv", None)
    assert by_email.report["counts"] == {"new": 2, "duplicate": 0, "error": 0}


async def test_import_pages(sessions: SessionFactory, settings: Settings) -> None:
    await factories.contact(sessions)
    async with app_client(settings) as http:
        assert (await http.get("/contacts/import")).status_code == 200
        uploaded = await http.post(
            "/contacts/import", files={"file": ("kunden.csv", fixture("excel-utf8-bom-semikolon.csv"), "text/csv")}
        )
        assert uploaded.status_code == 303
        preview = await http.get(uploaded.headers["location"])
        assert "Import bestätigen" in preview.text and "Müller-Lüdenscheidt" in preview.text
        assert "Nachname: bitte angeben" in preview.text and "Dublette" in preview.text
        import_id = uploaded.headers["location"].rsplit("/", 1)[1]
        confirmed = await http.post(f"/contacts/imports/{import_id}/confirm")
        assert confirmed.status_code == 303
        report = await http.get(f"/contacts/imports/{import_id}")
        assert "angelegt" in report.text and "Import bestätigen" not in report.text
        twice = await http.post(f"/contacts/imports/{import_id}/confirm")
        assert twice.status_code == 303  # refused with a notice, nothing created twice
        refused = await http.post("/contacts/import", files={"file": ("x.xlsx", b"PK\x03\x04...", "application/zip")})
        page = await http.get(refused.headers["location"])
        assert "Die Datei wurde abgelehnt" in page.text and "Excel-Arbeitsmappe" in page.text
        assert (await http.get("/contacts/imports/999999")).status_code == 404
        assert (await http.post("/contacts/imports/999999/confirm")).status_code == 404
        missing = await http.post("/contacts/import", files={"file": ("", b"", "text/csv")})
        assert missing.status_code == 400 and "Bitte eine Datei auswählen." in missing.text
    async with sessions() as session:
        assert len(list(await session.scalars(select(Contact)))) == 3
        assert len(list(await session.scalars(select(ContactImport)))) == 2  # every upload kept
