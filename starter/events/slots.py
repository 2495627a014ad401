"""Dispatcher handler of the time-slot requests.

`slot_request.created` is written with every new request. The API starts the workflow at once; requests
made by the `{{ time_slot_link }}` placeholder (inside a mail activity) rely on this handler alone.
Starting is idempotent (`slots-<id>`, REJECT_DUPLICATE), so a redelivered event is harmless.
"""

from __future__ import annotations

import logging

from temporalio.client import Client

from db.models import DomainEvent
from settings import get_settings
from starter.events.dispatcher import EventHandler
from starter.temporal.slots import ensure_slot_workflow

log = logging.getLogger(__name__)


def slot_request_created_handler(task_queue: str | None = None) -> EventHandler:
    """TASK_QUEUE: the worker's queue; None reads the settings when the event arrives (not at import)."""

    async def handle(client: Client, event: DomainEvent) -> None:
        request_id = int(event.payload["slot_request_id"])
        started = await ensure_slot_workflow(
            client, request_id=request_id, task_queue=task_queue or get_settings().task_queue
        )
        if started:
            log.info("event %s: started the workflow of slot request %s", event.id, request_id)

    return handle
