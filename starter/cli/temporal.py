"""`immoflow temporal …`: preparing a Temporal cluster for immoflow (search attributes, schedules)."""

from __future__ import annotations

import asyncio

import typer

from settings import get_settings

app = typer.Typer(help="Temporal cluster set-up.", no_args_is_help=True)


async def _setup() -> tuple[list[str], list[str]]:
    from starter.temporal.client import connect_client
    from starter.temporal.schedules import sync_schedules
    from starter.temporal.setup import register_search_attributes

    settings = get_settings()
    client = await connect_client(settings)
    added = await register_search_attributes(client)
    schedules = await sync_schedules(client, settings)
    from starter.temporal.retention_schedule import RETENTION_SCHEDULE_ID, sync_retention_schedule

    retention = await sync_retention_schedule(client, settings)
    lines = [f"schedule {s.schedule_id:<28} {s.state} ({s.description})" for s in schedules]
    return added, [*lines, f"schedule {RETENTION_SCHEDULE_ID:<28} {retention} (daily retention scan)"]


@app.command("setup")
def setup() -> None:
    """Register immoflow's search attributes and create/update its schedules (IMMOFLOW_TEMPORAL_ADDRESS).

    Idempotent: run it after every deploy (compose's temporal-setup service does); attributes that exist
    are left as they are, schedules take the current settings.
    """
    from workflows.shared import SEARCH_ATTRIBUTES

    settings = get_settings()
    added, schedules = asyncio.run(_setup())
    for key in SEARCH_ATTRIBUTES:
        state = "registered" if key.name in added else "present"
        typer.echo(f"{key.name:<16} {key.indexed_value_type.name.lower():<8} {state}")
    typer.echo(f"search attributes ready on {settings.temporal_address} (namespace {settings.temporal_namespace})")
    for line in schedules:
        typer.echo(line)
