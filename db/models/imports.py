"""Files the office imported (OpenImmo property exports, contact CSVs): kept before they are read, with the report.

The uploaded bytes are written below the data dir first (STORED_PATH) and the row records who sent what
and when; only then is the file parsed. A file that cannot be read keeps its row with status `refused`
and the reason, so nothing an office uploaded is lost and every import can be looked at again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedAtMixin


class ImportStatus(StrEnum):
    RECEIVED = "received"
    PREVIEW = "preview"  # CSV: parsed and shown, waiting for the office to confirm
    DONE = "done"
    REFUSED = "refused"


class PropertyImport(CreatedAtMixin, Base):
    """One OpenImmo XML or ZIP file and what its import did (created, updated, archived, refused)."""

    __tablename__ = "property_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    stored_path: Mapped[str] = mapped_column(String(500), comment="Path below the data dir.")
    channel: Mapped[str] = mapped_column(String(20), comment="web | cli")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.RECEIVED)
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime | None]


class ContactImport(CreatedAtMixin, Base):
    """One contacts CSV (as Excel saves it), its detected encoding and delimiter, and the import's report."""

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500), comment="Path below the data dir.")
    encoding: Mapped[str | None] = mapped_column(String(40))
    delimiter: Mapped[str | None] = mapped_column(String(4))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.RECEIVED)
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime | None]
