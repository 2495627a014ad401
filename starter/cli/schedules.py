"""`immoflow schedules …`: the Temporal Schedules immoflow keeps (the automations' birthday scan)."""

from __future__ import annotations

import asyncio

import typer

from settings import get_settings

app = typer.Typer(help="Temporal Schedules (daily birthday scan).", no_args_is_help=True)


@app.command("sync")
def sync() -> None:
    """Create the schedules, or update them to the current settings (IMMOFLOW_BIRTHDAY_SCAN_TIME, …).

    Idempotent: run it after every deploy. A schedule paused in the Temporal UI stays paused.
    """
    from starter.temporal.client import connect_client
    from starter.temporal.schedules import sync_schedules

    settings = get_settings()

    async def run() -> None:
        client = await connect_client(settings)
        for synced in await sync_schedules(client, settings):
            typer.echo(f"{synced.schedule_id:<28} {synced.state:<8} {synced.description}")
        from starter.temporal.retention_schedule import RETENTION_SCHEDULE_ID, sync_retention_schedule

        state = await sync_retention_schedule(client, settings)
        typer.echo(
            f"{RETENTION_SCHEDULE_ID:<28} {state:<8} daily at {settings.retention_scan_time:%H:%M} {settings.time_zone}"
        )

    asyncio.run(run())
    typer.echo(f"schedules ready on {settings.temporal_address} (namespace {settings.temporal_namespace})")
