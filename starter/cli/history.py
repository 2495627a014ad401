"""`immoflow history export WORKFLOW_ID`: write a workflow's history as JSON, e.g. for tests/histories."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from settings import get_settings
from starter.temporal.client import connect_client
from starter.temporal.histories import export_history

app = typer.Typer(help="Recorded workflow histories (replayed in CI to catch non-determinism).", no_args_is_help=True)


@app.command("export")
def export(
    workflow_id: str = typer.Argument(..., help="e.g. inquiry-immoscout24-4711"),
    run_id: str | None = typer.Option(None, help="A specific run; default the latest."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write; default standard output."),
) -> None:
    """Export the history of WORKFLOW_ID as JSON (the format `Replayer` and the Temporal UI use)."""

    async def run() -> str:
        client = await connect_client(get_settings())
        return await export_history(client, workflow_id, run_id)

    text = asyncio.run(run())
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text)
        typer.echo(f"history of {workflow_id} written to {output}")
