"""/media/properties/<id>/<hash>.<ext>: property pictures, public, because prospect pages and mails show them.

Only names the media store writes (a content hash and an image extension) are looked up, so no request
can reach another file of the data dir; the names change with the content, so browsers may cache forever.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from starter.services.media import IMAGE_TYPES, MediaStore
from web.dependencies import ServicesDep

router = APIRouter(tags=["media"], include_in_schema=False)


@router.get("/media/properties/{property_id}/{name}")
async def property_picture(property_id: int, name: str, services: ServicesDep) -> FileResponse:
    path = MediaStore(services.settings.data_dir).picture_path(property_id, name)
    if path is None:
        raise HTTPException(404, "Bild nicht gefunden")
    return FileResponse(
        path,
        media_type=IMAGE_TYPES[path.suffix.removeprefix(".")],
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
