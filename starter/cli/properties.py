"""`immoflow properties import FILE`: an OpenImmo export (XML or ZIP) into the office's properties.

Works on the database and data dir of the settings (IMMOFLOW_DATABASE_URL, IMMOFLOW_DATA_DIR), as the web
app's import page does; run it where the web app's data dir is (pictures are served from there).
Exit status 0 when the file was read (even with refused properties, listed with their reasons), 1 when the
file as a whole was refused, 2 for a usage error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import func, select

from db.models import ImportStatus, PropertyImport, User
from settings import Settings, get_settings

app = typer.Typer(help="Properties: OpenImmo import.", no_args_is_help=True)

SECTIONS = (
    ("created", "angelegt"),
    ("updated", "aktualisiert"),
    ("unchanged", "unverändert"),
    ("archived", "archiviert"),
    ("refused", "abgelehnt"),
)


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="OpenImmo .xml or .zip"),
    manager: str | None = typer.Option(None, help="E-mail of the user who manages newly created properties."),
    visible_to_all: bool = typer.Option(True, help="Newly created properties are visible to every user."),
) -> None:
    """Import an OpenImmo export: created, updated, archived (DELETE) and refused properties with reasons."""
    settings = get_settings()
    row = asyncio.run(_run(settings, file, manager, visible_to_all))
    typer.echo(format_report(row))
    if row.status == ImportStatus.REFUSED:
        raise typer.Exit(1)


async def _run(settings: Settings, file: Path, manager: str | None, visible_to_all: bool) -> PropertyImport:
    from db.session import engine_from_settings, make_session_factory
    from starter.services.property_import import ImportOptions, PropertyImporter

    engine = engine_from_settings(settings)
    try:
        sessions = make_session_factory(engine)
        manager_id: int | None = None
        if manager:
            async with sessions() as session:
                manager_id = await session.scalar(select(User.id).where(func.lower(User.email) == manager.lower()))
            if manager_id is None:
                typer.echo(f"no user with the e-mail address {manager}", err=True)
                raise typer.Exit(2)
        data = await asyncio.to_thread(file.read_bytes)
        importer = PropertyImporter(sessions, settings)
        row = await importer.receive(data, file.name, channel="cli", user_id=None)
        return await importer.run(
            row.id, data, ImportOptions(visible_to_all=visible_to_all, manager_user_id=manager_id)
        )
    finally:
        await engine.dispose()


def format_report(row: PropertyImport) -> str:
    if row.status == ImportStatus.REFUSED:
        return f"Import #{row.id} ({row.filename}) abgelehnt: {row.error}"
    report: dict[str, Any] = row.report
    counts = ", ".join(f"{len(report.get(key, []))} {label}" for key, label in SECTIONS)
    lines = [f"Import #{row.id} ({row.filename}, OpenImmo {report.get('version') or '?'}): {counts}"]
    for key, label in SECTIONS:
        for entry in report.get(key, []):
            reason = f": {entry['reason']}" if entry.get("reason") else ""
            title = f" {entry['title']}" if entry.get("title") else ""
            lines.append(f"  {label:<13} {entry['ref']}{title}{reason}")
    lines.extend(f"  Hinweis       {warning['ref']}: {warning['text']}" for warning in report.get("warnings", []))
    return "\n".join(lines)
