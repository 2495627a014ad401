"""`immoflow deploy …`: the worker deployment's versions, and switching which one new workflows run on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from temporalio.client import Client

from settings import get_settings

app = typer.Typer(help="Worker Versioning: show and switch the deployment's current version.", no_args_is_help=True)
T = TypeVar("T")
MEANING = {
    "current": "new workflows and every lead run here",
    "ramping": "gets its share of new workflows",
    "draining": "pinned workflows still run here: keep its workers",
    "drained": "nothing runs here any more: its workers may go",
    "inactive": "never current (or only polled)",
}


def _with_client(action: Callable[[Client], Awaitable[T]]) -> T:
    from starter.temporal.client import connect_client
    from starter.temporal.deployments import DeploymentError

    async def run() -> T:
        return await action(await connect_client(get_settings()))

    try:
        return asyncio.run(run())
    except DeploymentError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@app.command("build-id")
def build_id_command() -> None:
    """Print the build ID this code's worker joins the deployment with (IMMOFLOW_BUILD_ID, else version+git)."""
    from starter.temporal.deployments import build_id

    typer.echo(build_id(get_settings()))


@app.command("status")
def status() -> None:
    """The deployment's versions: which is current, which ramps, which still drain pinned workflows."""
    from starter.temporal.deployments import describe

    settings = get_settings()
    name = settings.deployment_name

    async def show(client: Client) -> None:
        found = await describe(client, name)
        if found is None:
            typer.echo(f"deployment {name}: no worker has polled yet")
            raise typer.Exit(1)
        typer.echo(f"deployment {name} on {settings.temporal_address} (namespace {settings.temporal_namespace})")
        typer.echo(f"current: {found.current_build_id or 'unversioned workers'}")
        if found.ramping_build_id:
            typer.echo(f"ramping: {found.ramping_build_id} ({found.ramping_percentage:g} % of new workflows)")
        typer.echo(f"{'build id':<32} {'status':<10} {'created':<21} meaning")
        for version in found.versions:
            created = version.created.strftime("%Y-%m-%d %H:%M UTC")
            meaning = MEANING.get(version.status, "")
            typer.echo(f"{version.build_id:<32} {version.status:<10} {created:<21} {meaning}")

    _with_client(show)


@app.command("promote")
def promote_command(build: str = typer.Argument(..., help="Build ID to make current (see `deploy status`).")) -> None:
    """Make BUILD current: new workflows and every lead run on it. Rolling back is promoting the previous build."""
    from starter.temporal.deployments import promote

    name = get_settings().deployment_name

    async def switch(client: Client) -> None:
        previous = await promote(client, name, build, identity=f"immoflow deploy promote ({client.identity})")
        typer.echo(f"{name}: current is {build} (was {previous or 'unversioned workers'})")

    _with_client(switch)


@app.command("ramp")
def ramp_command(
    build: str = typer.Argument(..., help="Build ID that gets a share of new workflows."),
    percentage: float = typer.Argument(..., help="0–100; 0 ends the ramp."),
) -> None:
    """Send PERCENTAGE of new workflows (and of the leads) to BUILD before promoting it."""
    from starter.temporal.deployments import ramp

    name = get_settings().deployment_name

    async def switch(client: Client) -> None:
        await ramp(client, name, build, percentage, identity=f"immoflow deploy ramp ({client.identity})")
        typer.echo(f"{name}: {build} gets {percentage:g} % of new workflows" if percentage else f"{name}: no ramp")

    _with_client(switch)
