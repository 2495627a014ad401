"""Reading a ZIP someone uploaded without trusting it: no bombs, no paths, no links.

Nothing is ever extracted to disk by its name: members are read into memory, bounded, and the caller
decides where their bytes go. A file is refused as a whole (UnsafeZipError, with a German reason) when
- it has more than MAX_MEMBERS entries, or a name that is absolute, climbs (`..`), uses backslashes or
  a drive letter, or is a symbolic link, or a member is encrypted;
- the sizes its directory declares exceed MAX_MEMBER_BYTES per member or MAX_TOTAL_BYTES in all, or a
  large member compresses better than MAX_RATIO (the signature of a zip bomb);
- a member turns out larger than it declared, or fails its checksum, while being read (a forged directory).
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_MEMBERS = 5000
MAX_MEMBER_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
MAX_RATIO = 100  # JPEGs and PDFs hardly compress; XML compresses ~10:1; 100:1 on megabytes is a bomb
RATIO_FROM_BYTES = 1024 * 1024  # tiny members may compress absurdly well (a run of spaces) and harm nobody
_CHUNK = 64 * 1024


class UnsafeZipError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SafeZip:
    archive: zipfile.ZipFile
    members: dict[str, zipfile.ZipInfo]  # normalised name (lower-case, posix) -> entry

    def names(self) -> list[str]:
        return [info.filename for info in self.members.values()]

    def find(self, name: str) -> zipfile.ZipInfo | None:
        return self.members.get(_key(name))

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, refusing to produce more than its directory entry declared."""
        limit = min(info.file_size, MAX_MEMBER_BYTES)
        chunks: list[bytes] = []
        size = 0
        try:
            with self.archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise UnsafeZipError(f"„{info.filename}“ ist größer, als die ZIP-Datei angibt: abgelehnt.")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            # zipfile stops at the declared size itself; the checksum then tells the forgery (or damage).
            raise UnsafeZipError(f"„{info.filename}“ in der ZIP-Datei ist beschädigt ({exc}).") from None
        return b"".join(chunks)


def is_zip(data: bytes) -> bool:
    return data.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def _key(name: str) -> str:
    return str(PurePosixPath(name)).lower()


def open_safe_zip(data: bytes) -> SafeZip:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsafeZipError(f"Die ZIP-Datei ist beschädigt oder keine ZIP-Datei ({exc}).") from None
    entries = archive.infolist()
    if len(entries) > MAX_MEMBERS:
        raise UnsafeZipError(f"Die ZIP-Datei enthält {len(entries)} Einträge; erlaubt sind höchstens {MAX_MEMBERS}.")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in entries:
        _check_name(info)
        if info.flag_bits & 0x1:
            raise UnsafeZipError(f"„{info.filename}“ ist verschlüsselt; verschlüsselte ZIP-Dateien werden abgelehnt.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeZipError(f"„{info.filename}“ ist ein symbolischer Link; Links werden abgelehnt.")
        if info.is_dir():
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            raise UnsafeZipError(
                f"„{info.filename}“ ist entpackt {info.file_size // (1024 * 1024)} MB groß; "
                f"erlaubt sind höchstens {MAX_MEMBER_BYTES // (1024 * 1024)} MB je Datei."
            )
        if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise UnsafeZipError(
                f"„{info.filename}“ ist {info.file_size // max(info.compress_size, 1)}-fach komprimiert: "
                "das ist eine ZIP-Bombe, keine Exportdatei."
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise UnsafeZipError(
                f"Die ZIP-Datei ist entpackt größer als {MAX_TOTAL_BYTES // (1024 * 1024)} MB: abgelehnt."
            )
        members[_key(info.filename)] = info
    return SafeZip(archive=archive, members=members)


def _check_name(info: zipfile.ZipInfo) -> None:
    # ZipInfo.filename has already turned backslashes into slashes on Windows-made archives; orig_filename
    # keeps what the archive says, and either spelling of a climb is refused.
    for name in (info.orig_filename, info.filename):
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
            or "\x00" in name
        ):
            raise UnsafeZipError(f"Unsicherer Pfad in der ZIP-Datei: „{name}“. Die Datei wurde abgelehnt.")
