"""Hostile ZIPs are refused as a whole, before any member is read, and nothing is written outside the store."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import ImportStatus, Property
from db.session import SessionFactory
from settings import Settings
from starter.intake import safe_zip
from starter.intake.safe_zip import UnsafeZipError, open_safe_zip
from starter.services.property_import import ImportOptions, PropertyImporter
from tests.properties.support import export_zip, fixture, zip_of

XML = fixture("export-1.2.7.xml")


def bomb() -> bytes:
    """60 MB of zeros in a few dozen KB: larger per member than allowed, and compressed a thousand-fold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.xml", XML)
        archive.writestr("bilder/nb-12-titel.jpg", b"\0" * (60 * 1024 * 1024))
    return buffer.getvalue()


def ratio_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.xml", XML)
        archive.writestr("bilder/nb-12-titel.jpg", b"\0" * (5 * 1024 * 1024))
    return buffer.getvalue()


def forged_size() -> bytes:
    """A directory that claims a member is 10 bytes, while it inflates to a megabyte."""
    data = bytearray(zip_of({"export.xml": XML, "bilder/nb-12-titel.jpg": b"\xff\xd8\xff" + b"A" * 1_000_000}))
    # Patch the uncompressed size in that member's central directory entry (offset 24 from its signature).
    position = data.find(b"PK\x01\x02")
    while position != -1:
        name_length = int.from_bytes(data[position + 28 : position + 30], "little")
        if bytes(data[position + 46 : position + 46 + name_length]) == b"bilder/nb-12-titel.jpg":
            data[position + 24 : position + 28] = (10).to_bytes(4, "little")
        position = data.find(b"PK\x01\x02", position + 4)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (zip_of({"../../etc/cron.d/evil.xml": XML}), "Unsicherer Pfad"),
        (zip_of({"/srv/evil.xml": XML}), "Unsicherer Pfad"),
        (zip_of({"bilder\\..\\..\\evil.xml": XML}), "Unsicherer Pfad"),
        (zip_of({"C:/Windows/evil.xml": XML}), "Unsicherer Pfad"),
        (zip_of({"export.xml": XML}, symlink="bilder/nb-12-titel.jpg"), "symbolischer Link"),
        (bomb(), "erlaubt sind höchstens 50 MB je Datei"),
        (ratio_bomb(), "ZIP-Bombe"),
        (b"PK\x03\x04 this is not really a zip", "beschädigt"),
    ],
    ids=["climb", "absolute", "backslash", "drive", "symlink", "bomb", "ratio", "corrupt"],
)
def test_hostile_archives_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(UnsafeZipError) as refused:
        open_safe_zip(data)
    assert reason in refused.value.reason


def test_too_many_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_zip, "MAX_MEMBERS", 3)
    with pytest.raises(UnsafeZipError, match="höchstens 3"):
        open_safe_zip(zip_of({f"bild-{n}.jpg": b"x" for n in range(4)}))


def test_a_member_larger_than_declared_is_refused_while_reading() -> None:
    archive = open_safe_zip(forged_size())
    info = archive.find("bilder/nb-12-titel.jpg")
    assert info is not None and info.file_size == 10
    with pytest.raises(UnsafeZipError, match=r"beschädigt|größer, als die ZIP-Datei angibt"):
        archive.read(info)


def test_the_export_zip_is_fine() -> None:
    archive = open_safe_zip(export_zip())
    assert sorted(archive.names()) == [
        "bilder/nb-12-kueche.png",
        "bilder/nb-12-titel.jpg",
        "export-1.2.7.xml",
        "expose-nb-12.pdf",
    ]


async def test_a_hostile_upload_is_stored_refused_and_writes_nothing_else(
    sessions: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    data = zip_of({"export.xml": XML, "../../escaped.jpg": fixture("nb-12-titel.jpg")})
    importer = PropertyImporter(sessions, settings)
    row = await importer.receive(data, "../../evil.zip", channel="web", user_id=None)
    done = await importer.run(row.id, data, ImportOptions())
    assert done.status == ImportStatus.REFUSED and done.error is not None and "Unsicherer Pfad" in done.error
    assert row.filename == "evil.zip"  # the name a browser sent never becomes a path
    assert not (tmp_path.parent / "escaped.jpg").exists()
    written = sorted(
        str(path.relative_to(settings.data_dir)) for path in settings.data_dir.rglob("*") if path.is_file()
    )
    assert written == [row.stored_path]
    async with sessions() as session:
        assert list(await session.scalars(select(Property))) == []


async def test_a_zip_with_two_exports_or_none_is_refused(sessions: SessionFactory, settings: Settings) -> None:
    importer = PropertyImporter(sessions, settings)
    for data, reason in (
        (zip_of({"a.xml": XML, "b.xml": XML}), "2 XML-Dateien"),
        (zip_of({"bild.jpg": fixture("nb-12-titel.jpg")}), "keine XML-Datei"),
    ):
        row = await importer.receive(data, "x.zip", channel="web", user_id=None)
        done = await importer.run(row.id, data, ImportOptions())
        assert done.error is not None and reason in done.error


async def test_a_picture_that_is_not_one_is_a_warning(sessions: SessionFactory, settings: Settings) -> None:
    data = zip_of(
        {
            "export.xml": XML,
            "bilder/nb-12-titel.jpg": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "expose-nb-12.pdf": b"MZ\x90\x00 not a pdf",
        }
    )
    importer = PropertyImporter(sessions, settings)
    row = await importer.receive(data, "x.zip", channel="web", user_id=None)
    done = await importer.run(row.id, data, ImportOptions())
    texts = [warning["text"] for warning in done.report["warnings"]]
    assert "Anhang „bilder/nb-12-titel.jpg“ ist kein JPEG-, PNG-, GIF- oder WebP-Bild." in texts
    assert "Anhang „expose-nb-12.pdf“ ist keine PDF-Datei." in texts
    async with sessions() as session:
        flat = await session.scalar(select(Property).where(Property.external_ref == "NB-12"))
    assert flat is not None and flat.cover_image_url is None and flat.expose_file is None


async def test_a_zip_made_by_the_macos_finder_is_read(sessions: SessionFactory, settings: Settings) -> None:
    data = zip_of({"export.xml": XML, "__MACOSX/._export.xml": b"\x00\x05\x16\x07", "._export.xml": b"\x00"})
    importer = PropertyImporter(sessions, settings)
    row = await importer.receive(data, "mac.zip", channel="web", user_id=None)
    done = await importer.run(row.id, data, ImportOptions())
    assert done.status == ImportStatus.DONE, done.error
    assert [entry["ref"] for entry in done.report["created"]] == ["NB-12", "GW-5"]
