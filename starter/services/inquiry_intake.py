"""The intake service as the web app's API uses it: this process's sessions, its Temporal client, its settings."""

from __future__ import annotations

from starter.intake.service import IntakeService
from starter.intake.starting import temporal_starter
from starter.services.context import Services


def intake_for(services: Services) -> IntakeService:
    """Intake that stores with this process's sessions and starts workflows through its (lazy) Temporal client."""
    settings = services.settings
    return IntakeService(
        services.sessions,
        start_workflow=temporal_starter(services.temporal, settings.task_queue),
        time_zone=settings.time_zone,
        default_mailbox=settings.default_intake_mailbox,
    )
