"""GET/PUT/PATCH /api/settings/inquiry-manager: the switches and numbers of seeds 002 and 000.

Running workflows keep the snapshot they took at start; a change applies to inquiries that arrive after it.
Every write is checked the way the workflow will read it (bounds, a JSON round trip, a size limit), so what
is stored can always be read back and become a workflow's configuration.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from starter.services.context import Services
from starter.services.inquiry_settings import StoredSettingsInvalidError, read_inquiry_config, write_inquiry_config
from web.dependencies import ServicesDep
from web.security.roles import AdminOnly
from workflows.inquiry_models import PRODUCTION_MIN_FOLLOWUP_INTERVAL, InquiryManagerConfig

# The page (web.pages.settings) imports these from here; they are the service's.
__all__ = ["StoredSettingsInvalidError", "config_problems", "read_inquiry_config", "router", "write_inquiry_config"]

router = APIRouter(prefix="/api/settings", tags=["settings"], dependencies=[AdminOnly])

# Far below Temporal's 2 MB payload limit: the snapshot travels in every inquiry's history.
MAX_DOCUMENT_BYTES = 64 * 1024
FIELDS = frozenset(InquiryManagerConfig.model_fields)


def config_problems(config: InquiryManagerConfig, *, production: bool) -> dict[str, str]:
    """Why CONFIG may not be stored, by field (German); empty when it may."""
    problems: dict[str, str] = {}
    if production and config.followup_interval < PRODUCTION_MIN_FOLLOWUP_INTERVAL:
        problems["followup_interval"] = "Im Produktivbetrieb beträgt der Abstand mindestens 1 Stunde."
    document = config.model_dump_json()
    if len(document.encode()) > MAX_DOCUMENT_BYTES:
        problems["exceptions"] = "Die Einstellungen sind zu umfangreich (höchstens 64 KB)."
    try:  # the round trip the activity and the workflow will make
        InquiryManagerConfig.model_validate_json(document)
    except ValidationError as exc:
        for error in exc.errors():
            problems[str(error["loc"][0])] = str(error["msg"])
    return problems


def _rejected(problems: dict[str, str]) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", name), "msg": message} for name, message in problems.items()]
    )


async def _checked_write(services: Services, config: InquiryManagerConfig) -> InquiryManagerConfig:
    problems = config_problems(config, production=services.settings.env == "production")
    if problems:
        raise _rejected(problems)
    return await write_inquiry_config(services, config)


@router.get("/inquiry-manager")
async def get_inquiry_manager(services: ServicesDep) -> InquiryManagerConfig:
    try:
        return await read_inquiry_config(services)
    except StoredSettingsInvalidError as exc:
        detail = f"Die gespeicherten Einstellungen sind ungültig ({exc}); bitte mit PUT vollständig neu speichern."
        raise HTTPException(409, detail) from exc


@router.put("/inquiry-manager")
async def put_inquiry_manager(config: InquiryManagerConfig, services: ServicesDep) -> InquiryManagerConfig:
    """The whole document (every field; PATCH changes some). Intervals: ISO 8601 ("P2D", "PT30S") or seconds."""
    missing = sorted(FIELDS - config.model_fields_set)
    if missing:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body", name), "msg": "Field required"} for name in missing]
        )
    return await _checked_write(services, config)


@router.patch("/inquiry-manager")
async def patch_inquiry_manager(
    changes: Annotated[dict[str, Any], Body(examples=[{"followup_interval": "P3D"}])], services: ServicesDep
) -> InquiryManagerConfig:
    """Changes the given fields and keeps the others."""
    unknown = sorted(set(changes) - FIELDS)
    if unknown:
        raise RequestValidationError(
            [{"type": "extra_forbidden", "loc": ("body", name), "msg": "Unknown field"} for name in unknown]
        )
    try:
        current = await read_inquiry_config(services)
    except StoredSettingsInvalidError as exc:
        detail = f"Die gespeicherten Einstellungen sind ungültig ({exc}); bitte mit PUT ersetzen."
        raise HTTPException(409, detail) from exc
    try:
        config = InquiryManagerConfig.model_validate({**current.model_dump(mode="json"), **changes})
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from exc
    return await _checked_write(services, config)
