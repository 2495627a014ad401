"""GET/PUT /api/settings/inquiry-manager: the switches and numbers of seeds 002 and 000.

Running workflows keep the snapshot they took at start; a change applies to inquiries that arrive after it.
"""

from __future__ import annotations

from fastapi import APIRouter

from db.app_settings import INQUIRY_MANAGER_KEY, load_section, save_section
from messaging import default_templates
from messaging.template_store import ensure_default_templates
from starter.services.context import Services
from web.dependencies import ServicesDep
from web.security.roles import AdminOnly
from workflows.inquiry_models import InquiryManagerConfig

router = APIRouter(prefix="/api/settings", tags=["settings"], dependencies=[AdminOnly])


async def read_inquiry_config(services: Services) -> InquiryManagerConfig:
    async with services.sessions() as session:
        return await load_section(session, INQUIRY_MANAGER_KEY, InquiryManagerConfig)


async def write_inquiry_config(services: Services, config: InquiryManagerConfig) -> InquiryManagerConfig:
    """Saves CONFIG and makes sure every reminder 1..K has a template of its own (seed 000)."""
    async with services.sessions.begin() as session:
        await ensure_default_templates(session, default_templates.defaults(config.followup_attempts))
        await save_section(session, INQUIRY_MANAGER_KEY, config)
    return config


@router.get("/inquiry-manager")
async def get_inquiry_manager(services: ServicesDep) -> InquiryManagerConfig:
    return await read_inquiry_config(services)


@router.put("/inquiry-manager")
async def put_inquiry_manager(config: InquiryManagerConfig, services: ServicesDep) -> InquiryManagerConfig:
    """Intervals accept ISO 8601 durations ("P2D", "PT30S") or seconds."""
    return await write_inquiry_config(services, config)
