"""Fixture files of the property tests and the ZIPs built from them (as CRMs pack them, and as attackers do)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "openimmo_properties"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def export_zip(xml_name: str = "export-1.2.7.xml", *, folder: str = "") -> bytes:
    """The 1.2.7 export with its pictures under bilder/ and the exposé next to the XML.

    Entries carry a fixed time stamp (not the clock's), so the same call gives the same bytes.
    """
    members = {
        f"{folder}{xml_name}": fixture(xml_name),
        f"{folder}bilder/nb-12-titel.jpg": fixture("nb-12-titel.jpg"),
        f"{folder}bilder/nb-12-kueche.png": fixture("nb-12-kueche.png"),
        f"{folder}expose-nb-12.pdf": fixture("expose-nb-12.pdf"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 30, 8, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        if symlink is not None:
            link = zipfile.ZipInfo(symlink)
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()
