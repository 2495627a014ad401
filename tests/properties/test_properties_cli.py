"""`immoflow properties import FILE` as an operator runs it: a subprocess on the configured database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Property, User
from db.session import SessionFactory
from settings import Settings
from tests.properties.support import DATA, export_zip

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the command, not the backend


async def immoflow(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "IMMOFLOW_ENV": "test",
        "IMMOFLOW_DATA_DIR": str(settings.data_dir),
        "IMMOFLOW_DATABASE_URL": str(settings.database_url),
        "IMMOFLOW_SECRET_KEY": "test-secret-key",
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "immoflow"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_import_prints_the_report(sessions: SessionFactory, settings: Settings, tmp_path: Path) -> None:
    async with sessions.begin() as session:
        session.add(User(email="max@office.example", name="Max Makler"))
    archive = tmp_path / "export.zip"
    archive.write_bytes(export_zip())
    code, out, err = await immoflow(settings, "properties", "import", str(archive), "--manager", "MAX@office.example")
    assert code == 0, err
    assert "2 angelegt, 0 aktualisiert, 0 unverändert, 0 archiviert, 0 abgelehnt" in out
    assert "angelegt      NB-12 Helle 3-Zimmer-Wohnung am Nordbahnhof" in out
    assert "Hinweis       GW-5: Anhang „bilder/fehlt.jpg“ fehlt in der ZIP-Datei." in out
    async with sessions() as session:
        managers = set(await session.scalars(select(Property.manager_user_id)))
        max_id = await session.scalar(select(User.id).where(User.name == "Max Makler"))
    assert managers == {max_id}

    code, out, _ = await immoflow(settings, "properties", "import", str(DATA / "delete.xml"))
    assert code == 0
    assert "archiviert    GW-5" in out and "abgelehnt     GIBT-ES-NICHT: DELETE für ein unbekanntes Objekt" in out


async def test_a_refused_file_and_an_unknown_manager_fail(settings: Settings) -> None:
    code, out, _ = await immoflow(settings, "properties", "import", str(DATA / "entities.xml"))
    assert code == 1 and "abgelehnt: Die XML-Datei enthält eine DTD" in out
    code, _, err = await immoflow(
        settings, "properties", "import", str(DATA / "delete.xml"), "--manager", "nobody@x.example"
    )
    assert code == 2 and "no user with the e-mail address nobody@x.example" in err
