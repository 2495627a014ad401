"""Error responses: a clear reason for the caller, never a traceback; outages answer 503 + Retry-After."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from temporalio.service import RPCError

from web.security.json_bodies import without_surrogates

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


def _finite(value: object) -> object:
    """JSON has no Infinity/NaN: `1e999` is valid JSON for the caller, but becomes inf once parsed."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # An ID like 9223372036854775808 passes `int` validation but no database column holds it
        # (SQLite: OverflowError, PostgreSQL: DataError); it is the caller's mistake, not an outage.
        log.info("value out of range during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "Ein Wert liegt außerhalb des gültigen Bereichs."}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input back and fails with a 500 when it holds inf (see _finite).
        # A lone surrogate in the echoed input cannot be encoded as UTF-8 either: replace it.
        errors = without_surrogates(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": _finite(errors)}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        # A unique or foreign key constraint decided against this request, typically a concurrent one
        # writing the same thing first: the caller can reload and retry, nothing is half-written.
        log.warning("constraint violated during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {
                "detail": "Der Datensatz wurde gleichzeitig geändert oder verweist auf etwas, das fehlt. "
                "Bitte neu laden und erneut versuchen."
            },
            status_code=409,
        )

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # Outages (refused or dropped connections, a locked SQLite file) are worth retrying: 503. Any other
        # driver error (bad SQL, a type the column refuses) is our bug: 500, logged with its traceback.
        outage = isinstance(exc, OperationalError | InterfaceError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
        if not outage:
            return await unexpected(request, exc)
        log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "Die Datenbank ist gerade nicht erreichbar. Bitte später erneut versuchen."},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(RPCError)
    async def temporal_down(request: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal error during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "Der Workflow-Dienst ist gerade nicht erreichbar. Bitte später erneut versuchen."},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error during %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Interner Fehler. Der Vorgang wurde protokolliert."}, status_code=500)
