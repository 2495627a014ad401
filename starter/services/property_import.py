"""OpenImmo import: an XML or ZIP export becomes properties, idempotent by external ref (`objektnr_extern`).

Used by the office page (/properties/import), the API and `immoflow properties import FILE`. The upload is
stored first (`receive`: the file below the data dir and its `property_imports` row, committed), then
read (`run`); a file that cannot be read keeps its row as `refused` with the reason. Per <immobilie>:

- CHANGE of an unknown ref creates the property (visible to all users or not, manager as chosen), of a
  known one updates what OpenImmo describes (title, type, status, address, prices, areas, texts, pictures,
  exposé) and leaves what the office decides (visibility, manager, contact persons) alone; an archived
  property that is exported again comes back;
- DELETE archives it (marketing status inactive): its inquiries, leads and history stay;
- a full transfer (`umfang="VOLL"`) also archives earlier-imported properties the file no longer lists;
- a record that cannot be read is refused with the reason and changes nothing; the rest goes on.

Importing the same file again changes nothing (reported as unchanged).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import ImportStatus, MarketingStatus, Property, PropertyImport, User
from db.session import SessionFactory
from settings import Settings
from starter.intake.openimmo_properties import (
    Attachment,
    OpenImmoDocument,
    OpenImmoFileError,
    PropertyRecord,
    parse_openimmo,
)
from starter.intake.safe_zip import SafeZip, UnsafeZipError, is_zip, open_safe_zip
from starter.services.context import Services
from starter.services.media import MediaError, MediaStore

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # an export with a few hundred properties and their pictures
IMPORTED_FIELDS = (
    "title",
    "property_type",
    "marketing_status",
    "rooms",
    "living_area",
    "price",
    "street",
    "zip_code",
    "city",
    "key_data",
    "texts",
)


class ImportRefusedError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ImportReport:
    version: str | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    archived: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{len(self.created)} angelegt, {len(self.updated)} aktualisiert, {len(self.unchanged)} unverändert, "
            f"{len(self.archived)} archiviert, {len(self.refused)} abgelehnt"
        )


@dataclass(frozen=True)
class ImportOptions:
    visible_to_all: bool = True
    manager_user_id: int | None = None


@dataclass
class _Source:
    """The XML and, for a ZIP, the archive its attachments are read from."""

    xml: bytes
    archive: SafeZip | None = None
    folder: PurePosixPath = field(default_factory=PurePosixPath)


class PropertyImporter:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._media = MediaStore(settings.data_dir)

    async def receive(self, data: bytes, filename: str, *, channel: str, user_id: int | None) -> PropertyImport:
        """Store the file and its row before anything reads it."""
        name = (PurePosixPath(filename.replace("\\", "/")).name or "upload")[:300]
        async with self._sessions.begin() as session:
            row = PropertyImport(
                filename=name,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                stored_path="",
                channel=channel,
                user_id=user_id,
                status=ImportStatus.RECEIVED,
                report={},
            )
            session.add(row)
            await session.flush()
            suffix = ".zip" if is_zip(data) else ".xml"
            row.stored_path = await asyncio.to_thread(self._media.save_upload, "properties", row.id, data, suffix)
        return row

    async def run(self, import_id: int, data: bytes, options: ImportOptions) -> PropertyImport:
        """Read the stored file and apply it; the row ends `done` with the report or `refused` with the reason."""
        try:
            source = await asyncio.to_thread(_open_source, data)
            document = await asyncio.to_thread(parse_openimmo, source.xml)
        except (ImportRefusedError, OpenImmoFileError) as exc:
            return await self._finish(import_id, ImportStatus.REFUSED, error=exc.reason)
        async with self._sessions.begin() as session:
            if options.manager_user_id is not None and await session.get(User, options.manager_user_id) is None:
                options = ImportOptions(visible_to_all=options.visible_to_all)  # a user deleted meanwhile
            report = await self._apply(session, document, source, options)
            row = await session.get(PropertyImport, import_id)
            assert row is not None
            row.status, row.report, row.finished_at = ImportStatus.DONE, report.as_dict(), utcnow()
        return row

    async def _finish(self, import_id: int, status: ImportStatus, *, error: str) -> PropertyImport:
        async with self._sessions.begin() as session:
            row = await session.get(PropertyImport, import_id)
            assert row is not None
            row.status, row.error, row.finished_at = status, error, utcnow()
        return row

    async def _apply(
        self, session: AsyncSession, document: OpenImmoDocument, source: _Source, options: ImportOptions
    ) -> ImportReport:
        report = ImportReport(version=document.version)
        for refused in document.refused:
            label = refused.ref or f"Immobilie {refused.position}"
            report.refused.append({"ref": label, "reason": refused.reason})
        listed: set[str] = set()
        for record in document.records:
            listed.add(record.ref.lower())
            existing = await session.scalar(
                select(Property).where(func.lower(Property.external_ref) == record.ref.lower())
            )
            if record.action == "DELETE":
                self._delete(existing, record, report)
                continue
            await self._change(session, existing, record, source, options, report)
        if document.full:
            stale = await session.scalars(
                select(Property).where(Property.source == "openimmo", Property.archived.is_(False))
            )
            for prop in stale:
                if prop.external_ref.lower() not in listed:
                    _archive(prop)
                    report.archived.append(
                        {
                            "ref": prop.external_ref,
                            "id": prop.id,
                            "title": prop.title,
                            "reason": "fehlt in der Vollübertragung",
                        }
                    )
        return report

    @staticmethod
    def _delete(existing: Property | None, record: PropertyRecord, report: ImportReport) -> None:
        if existing is None:
            report.refused.append(
                {"ref": record.ref, "reason": "DELETE für ein unbekanntes Objekt: nichts zu archivieren."}
            )
        elif existing.archived:
            report.unchanged.append({"ref": existing.external_ref, "id": existing.id, "title": existing.title})
        else:
            _archive(existing)
            report.archived.append({"ref": existing.external_ref, "id": existing.id, "title": existing.title})

    async def _change(
        self,
        session: AsyncSession,
        existing: Property | None,
        record: PropertyRecord,
        source: _Source,
        options: ImportOptions,
        report: ImportReport,
    ) -> None:
        values: dict[str, Any] = {name: getattr(record, name) for name in IMPORTED_FIELDS}
        prop = existing
        if prop is None:
            manager_id = options.manager_user_id or await _user_by_email(session, record.contact_email)
            prop = Property(
                external_ref=record.ref,
                visible_to_all=options.visible_to_all,
                manager_user_id=manager_id,
                source="openimmo",
                archived=False,
                images=[],
                **values,
            )
            session.add(prop)
            await session.flush()
            changed = True
        else:
            changed = prop.archived or any(_differs(getattr(prop, name), value) for name, value in values.items())
            for name, value in values.items():
                setattr(prop, name, value)
            prop.archived = False
        changed |= await self._attachments(prop, record, source, report)
        entry = {"ref": prop.external_ref, "id": prop.id, "title": prop.title}
        if existing is None:
            report.created.append(entry)
        elif changed:
            prop.updated_at = utcnow()
            report.updated.append(entry)
        else:
            report.unchanged.append(entry)

    async def _attachments(self, prop: Property, record: PropertyRecord, source: _Source, report: ImportReport) -> bool:
        """Pictures and the exposé; a missing or broken file is a warning, the property is imported anyway.

        Unpacking and writing run in a thread: an export with hundreds of pictures must not stall the web app.
        """
        cover: str | None = None
        pictures: list[str] = []
        expose: str | None = None
        for attachment in sorted(record.attachments, key=lambda a: a.group != "TITELBILD"):
            try:
                if _is_document(attachment):
                    if expose is None and attachment.location == "INTERN":
                        expose = await asyncio.to_thread(self._expose, prop.id, attachment, source)
                    continue
                url = await asyncio.to_thread(self._picture, prop.id, attachment, source)
            except (MediaError, ImportRefusedError) as exc:
                report.warnings.append({"ref": prop.external_ref, "text": str(exc)})
                continue
            if url is None:
                continue
            if cover is None and attachment.group in ("TITELBILD", "BILD", ""):
                cover = url
            elif url not in pictures:
                pictures.append(url)
        changed = False
        if cover is not None and prop.cover_image_url != cover:
            prop.cover_image_url, changed = cover, True
        if pictures != (prop.images or []) and (pictures or record.attachments):
            prop.images, changed = pictures, True
        if expose is not None and prop.expose_file != expose:
            prop.expose_file, changed = expose, True
        return changed

    def _expose(self, property_id: int, attachment: Attachment, source: _Source) -> str:
        return self._media.save_expose(property_id, self._read(source, attachment), _label(attachment))

    def _picture(self, property_id: int, attachment: Attachment, source: _Source) -> str | None:
        if attachment.location == "EXTERN":
            url = attachment.path.strip()
            return url if url.lower().startswith(("https://", "http://")) else None
        return self._media.save_picture(property_id, self._read(source, attachment), _label(attachment))

    @staticmethod
    def _read(source: _Source, attachment: Attachment) -> bytes:
        if source.archive is None:
            raise ImportRefusedError(
                f"{_label(attachment)}: eine XML-Datei allein bringt keine Bilder mit (ZIP hochladen)."
            )
        relative = PurePosixPath(attachment.path.replace("\\", "/"))
        info = source.archive.find(str(source.folder / relative)) or source.archive.find(str(relative))
        if info is None:
            raise ImportRefusedError(f"{_label(attachment)} fehlt in der ZIP-Datei.")
        try:
            return source.archive.read(info)
        except UnsafeZipError as exc:
            raise ImportRefusedError(exc.reason) from None


RECENT_IMPORTS = 20  # the import page lists the latest; older reports stay reachable by their URL


async def recent_property_imports(services: Services) -> list[PropertyImport]:
    """The latest OpenImmo imports, newest first, for the import page."""
    async with services.sessions() as session:
        query = select(PropertyImport).order_by(PropertyImport.id.desc()).limit(RECENT_IMPORTS)
        return list(await session.scalars(query))


async def get_property_import(services: Services, import_id: int) -> PropertyImport | None:
    """One OpenImmo import with its report; None when there is none."""
    async with services.sessions() as session:
        return await session.get(PropertyImport, import_id)


async def import_openimmo(
    services: Services, data: bytes, filename: str, options: ImportOptions, user_id: int | None
) -> PropertyImport:
    """An uploaded OpenImmo file (page and API): stored first, then applied; the row ends `done` with its
    report or `refused` with the reason."""
    importer = PropertyImporter(services.sessions, services.settings)
    row = await importer.receive(data, filename, channel="web", user_id=user_id)
    return await importer.run(row.id, data, options)


def _open_source(data: bytes) -> _Source:
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportRefusedError(f"Die Datei ist größer als {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    try:
        if not is_zip(data):
            parse_check = data.lstrip()[:1]
            if parse_check != b"<" and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
                raise ImportRefusedError("Die Datei ist weder eine OpenImmo-XML- noch eine ZIP-Datei.")
            return _Source(xml=data)
        archive = open_safe_zip(data)
        xml_members = [name for name in archive.names() if name.lower().endswith(".xml") and not _mac_metadata(name)]
        if not xml_members:
            raise ImportRefusedError("Die ZIP-Datei enthält keine XML-Datei.")
        if len(xml_members) > 1:
            raise ImportRefusedError(
                f"Die ZIP-Datei enthält {len(xml_members)} XML-Dateien ({', '.join(sorted(xml_members)[:5])}); "
                "erwartet ist genau eine."
            )
        info = archive.find(xml_members[0])
        assert info is not None
        return _Source(xml=archive.read(info), archive=archive, folder=PurePosixPath(xml_members[0]).parent)
    except UnsafeZipError as exc:
        raise ImportRefusedError(exc.reason) from None


def _mac_metadata(name: str) -> bool:
    """macOS's Finder adds __MACOSX/._export.xml next to every file it zips: resource forks, not exports."""
    path = PurePosixPath(name)
    return path.parts[:1] == ("__MACOSX",) or path.name.startswith("._")


def _is_document(attachment: Attachment) -> bool:
    fmt = (attachment.format or "").lower()
    return attachment.group == "DOKUMENTE" or "pdf" in fmt or attachment.path.lower().endswith(".pdf")


def _label(attachment: Attachment) -> str:
    return f"Anhang „{attachment.path}“"


def _archive(prop: Property) -> None:
    prop.archived = True
    prop.marketing_status = MarketingStatus.INACTIVE
    prop.updated_at = utcnow()


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, Decimal) or isinstance(new, Decimal):
        return (Decimal(current) if current is not None else None) != (Decimal(new) if new is not None else None)
    return bool(current != new)


async def _user_by_email(session: AsyncSession, email: str | None) -> int | None:
    if not email:
        return None
    user_id: int | None = await session.scalar(
        select(User.id).where(func.lower(User.email) == email.lower(), User.is_active)
    )
    return user_id
