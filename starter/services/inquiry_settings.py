"""The inquiry manager's settings (seeds 002 and 000): read and write the one stored document.

Used by `PUT/PATCH /api/settings/inquiry-manager` and the /settings/inquiry-manager page alike, so both
store the same document the same way (including the templates for reminders 1..K).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from db.app_settings import INQUIRY_MANAGER_KEY, load_section, save_section
from messaging import default_templates
from messaging.template_store import ensure_default_templates
from starter.services.context import Services
from workflows.inquiry_models import InquiryManagerConfig

log = logging.getLogger(__name__)


class StoredSettingsInvalidError(Exception):
    """The stored document no longer validates (written before the bounds existed)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(", ".join(errors))
        self.fields = errors


async def read_inquiry_config(services: Services) -> InquiryManagerConfig:
    """The stored settings (defaults when none are stored); StoredSettingsInvalidError when they no longer validate."""
    async with services.sessions() as session:
        try:
            return await load_section(session, INQUIRY_MANAGER_KEY, InquiryManagerConfig)
        except ValidationError as exc:
            fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
            log.warning("stored inquiry manager settings are invalid: %s", fields)
            raise StoredSettingsInvalidError(fields) from exc


async def write_inquiry_config(services: Services, config: InquiryManagerConfig) -> InquiryManagerConfig:
    """Saves CONFIG and makes sure every reminder 1..K has a template of its own (seed 000)."""
    async with services.sessions.begin() as session:
        await ensure_default_templates(session, default_templates.defaults(config.followup_attempts))
        await save_section(session, INQUIRY_MANAGER_KEY, config)
    return config
