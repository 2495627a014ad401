"""Files the office uploads for a property: cover pictures (public, shown to prospects) and exposé PDFs.

Uploaded bytes are checked by what they are, not by the name or content type the browser claims: a
picture must start like a JPEG, PNG, GIF or WebP (SVG is refused, it can carry scripts), an exposé like a
PDF. Files are named by their content hash below the data dir, so a name from a browser or a ZIP never
becomes a path, and storing the same file twice is a no-op.

- pictures: `<data dir>/media/properties/<id>/<hash>.<ext>`, served publicly at the same path under
  `/media/` (web/pages/media.py): prospect pages and exposé mails show them;
- exposés: `<data dir>/documents/properties/<id>/expose-<hash>.pdf`, the path below the data dir is what
  `Property.expose_file` and mail attachments hold; offices download them behind the login.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # a portal's largest accepted picture is well below this
MAX_PDF_BYTES = 25 * 1024 * 1024  # exposés travel as mail attachments; most mail servers stop near 25 MB

IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
PICTURE_NAME = re.compile(r"^[0-9a-f]{16}\.(jpg|png|gif|webp)$")
MEDIA_PREFIX = "/media/properties"


class MediaError(ValueError):
    """The file is not what it must be; the text says why (German, shown on the page)."""


def sniff_image(data: bytes) -> str | None:
    """The extension of a JPEG, PNG, GIF or WebP by its magic bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_pdf(data: bytes) -> bool:
    # The header may follow a few bytes of junk (the PDF spec allows it within the first 1024 bytes).
    return b"%PDF-" in data[:1024]


def check_image(data: bytes, label: str = "Das Bild") -> str:
    if not data:
        raise MediaError(f"{label} ist leer.")
    if len(data) > MAX_IMAGE_BYTES:
        raise MediaError(f"{label} ist größer als {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
    extension = sniff_image(data)
    if extension is None:
        raise MediaError(f"{label} ist kein JPEG-, PNG-, GIF- oder WebP-Bild.")
    return extension


def check_pdf(data: bytes, label: str = "Das Exposé") -> None:
    if not data:
        raise MediaError(f"{label} ist leer.")
    if len(data) > MAX_PDF_BYTES:
        raise MediaError(f"{label} ist größer als {MAX_PDF_BYTES // (1024 * 1024)} MB.")
    if not is_pdf(data):
        raise MediaError(f"{label} ist keine PDF-Datei.")


class MediaStore:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir

    def save_picture(self, property_id: int, data: bytes, label: str = "Das Bild") -> str:
        """Check and store a picture; returns its public URL (site-relative)."""
        extension = check_image(data, label)
        name = f"{hashlib.sha256(data).hexdigest()[:16]}.{extension}"
        self._write(self._data_dir / "media" / "properties" / str(property_id) / name, data)
        return f"{MEDIA_PREFIX}/{property_id}/{name}"

    def save_expose(self, property_id: int, data: bytes, label: str = "Das Exposé") -> str:
        """Check and store an exposé PDF; returns its path below the data dir (Property.expose_file)."""
        check_pdf(data, label)
        relative = f"documents/properties/{property_id}/expose-{hashlib.sha256(data).hexdigest()[:16]}.pdf"
        self._write(self._data_dir / relative, data)
        return relative

    def picture_path(self, property_id: int, name: str) -> Path | None:
        """The file behind a public picture URL, or None: only names this store writes are ever looked up."""
        if not PICTURE_NAME.fullmatch(name):
            return None
        path = self._data_dir / "media" / "properties" / str(property_id) / name
        return path if path.is_file() else None

    def document_path(self, relative: str) -> Path | None:
        path = (self._data_dir / relative).resolve()
        root = (self._data_dir / "documents").resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def save_upload(self, kind: str, upload_id: int, data: bytes, suffix: str) -> str:
        """An import file as received (kept for the record); returns its path below the data dir."""
        relative = f"imports/{kind}/{upload_id:06d}-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
        self._write(self._data_dir / relative, data)
        return relative

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return  # content-addressed: the same bytes are there already
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # readers never see half a file
