"""Reading a form with a file from the office, bounded: a clear German reason instead of a full disk or a 500.

Starlette spools uploaded files to disk without a limit of its own, so the request's Content-Length is
checked before the body is read (a chunked upload without a length is refused), and the file again after.
Browsers post uploads through `data-upload` forms (/static/uploads.js), which send the CSRF token as a
header: the CSRF check then need not buffer the body, which it only does up to 1 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

FORM_OVERHEAD_BYTES = 64 * 1024


class UploadError(ValueError):
    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]
    lists: dict[str, list[str]]
    filename: str
    data: bytes


async def read_upload(request: Request, field: str, limit: int, *, required: bool = True) -> Upload:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise UploadError("Die Anfrage nennt ihre Länge nicht (Content-Length); bitte das Formular benutzen.", 411)
    if int(length) > limit + FORM_OVERHEAD_BYTES:
        raise UploadError(f"Die Datei ist größer als {limit // (1024 * 1024)} MB.", 413)
    try:
        form = await request.form(max_files=1, max_fields=200)
    except HTTPException as exc:
        raise UploadError(f"Das Formular ist unvollständig oder beschädigt ({exc.detail}).") from None
    try:
        fields: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, value.strip())
                lists.setdefault(key, []).append(value.strip())
        upload = form.get(field)
        if not isinstance(upload, UploadFile) or not upload.filename:
            if required:
                raise UploadError("Bitte eine Datei auswählen.")
            return Upload(fields=fields, lists=lists, filename="", data=b"")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise UploadError(f"Die Datei ist größer als {limit // (1024 * 1024)} MB.", 413)
        return Upload(fields=fields, lists=lists, filename=upload.filename, data=data)
    finally:
        await form.close()
