"""OpenImmo property import against a real database: created, updated, unchanged, archived, refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import ImportStatus, Property, PropertyImport, User
from db.session import SessionFactory
from settings import Settings
from starter.services.property_import import ImportOptions, PropertyImporter
from tests.properties.support import export_zip, fixture


async def run_import(
    sessions: SessionFactory, settings: Settings, data: bytes, name: str = "export.zip", **options: object
) -> PropertyImport:
    importer = PropertyImporter(sessions, settings)
    row = await importer.receive(data, name, channel="cli", user_id=None)
    return await importer.run(row.id, data, ImportOptions(**options))  # type: ignore[arg-type]


async def by_ref(sessions: SessionFactory, ref: str) -> Property:
    async with sessions() as session:
        prop = await session.scalar(select(Property).where(Property.external_ref == ref))
    assert prop is not None, ref
    return prop


async def test_a_zip_export_creates_properties_with_pictures_and_expose(
    sessions: SessionFactory, settings: Settings
) -> None:
    async with sessions.begin() as session:
        session.add(User(email="agent@immoflow.local", name="Anna Agent"))
    row = await run_import(sessions, settings, export_zip())

    assert row.status == ImportStatus.DONE
    assert [entry["ref"] for entry in row.report["created"]] == ["NB-12", "GW-5"]
    assert row.report["refused"] == []
    assert row.report["version"] == "1.2.7"
    # The picture the ZIP lacks is a warning, the property is imported anyway.
    assert any("bilder/fehlt.jpg" in warning["text"] for warning in row.report["warnings"])

    flat = await by_ref(sessions, "NB-12")
    assert flat.title == "Helle 3-Zimmer-Wohnung am Nordbahnhof"
    assert flat.property_type == "Wohnung"
    assert (flat.rooms, flat.living_area, flat.price) == (Decimal("3"), Decimal("78.5"), Decimal("1250"))
    assert (flat.street, flat.zip_code, flat.city) == ("Invalidenstraße 12", "10115", "Berlin")
    assert flat.key_data["Kaltmiete"] == "1.250 €"
    assert flat.key_data["Etage"] == "3"
    assert flat.texts["Lage"].startswith("Fünf Minuten")
    assert "\n" in flat.texts["Objektbeschreibung"]
    assert flat.visible_to_all and flat.source == "openimmo" and flat.marketing_status == "active"
    assert flat.manager_user_id is not None  # kontaktperson/email_direkt is a user of the office
    assert flat.cover_image_url is not None and flat.cover_image_url.endswith(".jpg")
    assert (settings.data_dir / flat.cover_image_url.removeprefix("/")).read_bytes() == fixture("nb-12-titel.jpg")
    assert len(flat.images) == 1 and flat.images[0].endswith(".png")
    assert flat.expose_file is not None
    assert (settings.data_dir / flat.expose_file).read_bytes() == fixture("expose-nb-12.pdf")

    house = await by_ref(sessions, "GW-5")
    assert house.marketing_status == "reserved"
    assert house.cover_image_url == "https://cdn.buero.example/gw-5/garten.jpg"
    assert house.manager_user_id is None
    # The upload itself is kept below the data dir.
    assert (settings.data_dir / row.stored_path).read_bytes() == export_zip()


async def test_importing_the_same_file_again_changes_nothing(sessions: SessionFactory, settings: Settings) -> None:
    await run_import(sessions, settings, export_zip())
    again = await run_import(sessions, settings, export_zip())
    assert again.report["created"] == [] and again.report["updated"] == []
    assert [entry["ref"] for entry in again.report["unchanged"]] == ["NB-12", "GW-5"]
    async with sessions() as session:
        assert len(list(await session.scalars(select(Property)))) == 2


async def test_a_change_updates_what_openimmo_describes_and_keeps_what_the_office_decided(
    sessions: SessionFactory, settings: Settings
) -> None:
    await run_import(sessions, settings, export_zip())
    async with sessions.begin() as session:
        flat = await session.scalar(select(Property).where(Property.external_ref == "NB-12"))
        assert flat is not None
        flat.visible_to_all = False
        flat.title = "Vom Büro umbenannt"
    changed = fixture("export-1.2.7.xml").replace(b"<kaltmiete>1250.00</kaltmiete>", b"<kaltmiete>1300.00</kaltmiete>")
    row = await run_import(sessions, settings, changed, "export.xml")
    assert [entry["ref"] for entry in row.report["updated"]] == ["NB-12"]
    flat = await by_ref(sessions, "NB-12")
    assert flat.price == Decimal("1300") and flat.title == "Helle 3-Zimmer-Wohnung am Nordbahnhof"
    assert flat.visible_to_all is False
    # A lone XML brings no pictures: the ones from the ZIP stay, and the report says why none were read.
    assert flat.cover_image_url is not None and flat.cover_image_url.startswith("/media/properties/")
    assert any("ZIP" in warning["text"] for warning in row.report["warnings"])


async def test_latin1_openimmo_1_2_5_with_german_amounts(sessions: SessionFactory, settings: Settings) -> None:
    row = await run_import(sessions, settings, fixture("export-1.2.5-latin1.xml"), "alt.xml")
    assert row.status == ImportStatus.DONE, row.error
    assert row.report["version"] == "1.2.5"
    prop = await by_ref(sessions, "MÜ-3")
    assert prop.city == "München" and prop.street == "Schäfflerstraße 3"
    assert prop.price == Decimal("1890") and prop.living_area == Decimal("96.5")
    assert prop.title.startswith("Dachgeschoss über den Dächern")


async def test_delete_archives_and_an_unknown_delete_is_refused(sessions: SessionFactory, settings: Settings) -> None:
    await run_import(sessions, settings, export_zip())
    row = await run_import(sessions, settings, fixture("delete.xml"), "delete.xml")
    assert [entry["ref"] for entry in row.report["archived"]] == ["GW-5"]
    assert row.report["refused"] == [
        {"ref": "GIBT-ES-NICHT", "reason": "DELETE für ein unbekanntes Objekt: nichts zu archivieren."}
    ]
    house = await by_ref(sessions, "GW-5")
    assert house.archived and house.marketing_status == "inactive"
    # Exported again, it comes back.
    back = await run_import(sessions, settings, export_zip())
    assert [entry["ref"] for entry in back.report["updated"]] == ["GW-5"]
    house = await by_ref(sessions, "GW-5")
    assert not house.archived and house.marketing_status == "reserved"


async def test_a_full_transfer_archives_what_it_no_longer_lists(sessions: SessionFactory, settings: Settings) -> None:
    await run_import(sessions, settings, export_zip())
    async with sessions.begin() as session:
        session.add(Property(external_ref="OFFICE-1", title="Im Büro angelegt", source="office"))
    row = await run_import(sessions, settings, fixture("full-transfer.xml"), "voll.xml")
    assert [(entry["ref"], entry["reason"]) for entry in row.report["archived"]] == [
        ("GW-5", "fehlt in der Vollübertragung")
    ]
    assert not (await by_ref(sessions, "OFFICE-1")).archived  # not from OpenImmo: not the export's to remove


async def test_broken_records_are_refused_one_by_one(sessions: SessionFactory, settings: Settings) -> None:
    row = await run_import(sessions, settings, fixture("broken-records.xml"), "kaputt.xml")
    assert row.status == ImportStatus.DONE
    assert [entry["ref"] for entry in row.report["created"]] == ["OK-1"]
    reasons = {entry["ref"]: entry["reason"] for entry in row.report["refused"]}
    assert reasons == {
        "Immobilie 1": "verwaltung_techn/objektnr_extern fehlt: ohne Objektnummer kein Import.",
        "BAD-1": "preise/kaltmiete: „auf Anfrage“ ist keine Zahl.",
        "BAD-2": "freitexte/objekttitel fehlt: jede Immobilie braucht einen Titel.",
    }


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("malformed.xml", "Die XML-Datei ist fehlerhaft"),
        ("entities.xml", "DTD"),
        ("external-dtd.xml", "DTD"),
        ("undeclared-latin1.xml", "nennt keine Kodierung, also gilt UTF-8"),
    ],
)
async def test_unreadable_files_are_kept_and_refused_with_the_reason(
    sessions: SessionFactory, settings: Settings, name: str, reason: str
) -> None:
    row = await run_import(sessions, settings, fixture(name), name)
    assert row.status == ImportStatus.REFUSED
    assert row.error is not None and reason in row.error
    assert (settings.data_dir / row.stored_path).read_bytes() == fixture(name)
    async with sessions() as session:
        assert list(await session.scalars(select(Property))) == []


async def test_not_an_export_at_all(sessions: SessionFactory, settings: Settings, tmp_path: Path) -> None:
    row = await run_import(sessions, settings, b"Objektnummer;Titel\nW-1;Wohnung\n", "objekte.csv")
    assert row.status == ImportStatus.REFUSED
    assert row.error == "Die Datei ist weder eine OpenImmo-XML- noch eine ZIP-Datei."
