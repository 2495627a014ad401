"""The `immoflow` command. Each group lives in its own module and is added here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from settings import Settings, SettingsError, get_settings
from starter.ops.logs import configure_logging
from starter.ops.process import exit_cleanly

app = typer.Typer(
    help="immoflow: a real-estate office's follow-ups as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from db.migrate import upgrade_sync

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.effective_database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert migrations down to REVISION."""
    from db.migrate import downgrade_sync

    downgrade_sync(get_settings().effective_database_url, revision)
    typer.echo(f"database at {revision}")


def _refuse_weak_production(settings: Settings, *, web: bool = True) -> None:
    try:
        settings.check_production(web=web)
    except SettingsError as exc:
        typer.echo(f"immoflow: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def worker() -> None:
    """Run the Temporal worker (all workflows and activities) and the event dispatcher."""
    from worker import run_worker

    settings = get_settings()
    _refuse_weak_production(settings, web=False)  # the worker signs the links it mails: the same key and URL
    configure_logging(settings)
    asyncio.run(run_worker())


@app.command()
def web(
    host: str | None = typer.Option(None, help="Bind address (default IMMOFLOW_WEB_HOST)."),
    port: int | None = typer.Option(None, help="Port (default IMMOFLOW_WEB_PORT)."),
) -> None:
    """Run the web app: JSON API, prospect forms, office dashboard."""
    import uvicorn

    from web.app import create_app

    settings = get_settings()
    _refuse_weak_production(settings)
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.web_host,
        port=port or settings.web_port,
        log_config=None,
        # The app trusts X-Forwarded-* only from IMMOFLOW_TRUSTED_PROXIES (web.app), not uvicorn's default.
        proxy_headers=False,
    )


@app.command()
def dev(
    data_dir: Path | None = typer.Option(None, help="Data directory (default IMMOFLOW_DATA_DIR, .immoflow)."),
    web_port: int | None = typer.Option(None, help="Web app port (default IMMOFLOW_WEB_PORT, 8000)."),
    temporal_port: int | None = typer.Option(None, help="Temporal frontend port (default 7233)."),
    ui_port: int | None = typer.Option(None, help="Temporal UI port (default IMMOFLOW_TEMPORAL_UI_PORT, 8233)."),
    smtp_port: int | None = typer.Option(None, help="Port of the built-in SMTP sink (default 1025)."),
    imap_port: int | None = typer.Option(None, help="Port of the built-in IMAP server (default 1143)."),
    demo: bool = typer.Option(True, help="Load the demo office into a database without users."),
) -> None:
    """Run the whole local stack: Temporal dev server, migrations, SMTP sink, worker, web app, demo data."""
    from starter.dev.config import DevOptions
    from starter.dev.stack import run_dev

    settings = get_settings()
    configure_logging(settings)
    options = DevOptions.from_settings(
        settings,
        data_dir=data_dir,
        web_port=web_port,
        temporal_port=temporal_port,
        ui_port=ui_port,
        smtp_port=smtp_port,
        load_demo=demo,
        imap_port=imap_port,
    )
    raise typer.Exit(run_dev(options, settings, echo=typer.echo))


@app.command("demo")
def demo_data() -> None:
    """Load the demo office (users, mailbox, properties, contacts, templates); safe to run again."""
    from sqlalchemy.exc import DBAPIError

    from starter.dev.demo import AGENT_PASSWORD, load_demo_sync
    from starter.services.showcase import AGENT_EMAIL

    settings = get_settings()
    if settings.is_production:
        typer.echo("refusing to create demo users with known passwords in production", err=True)
        raise typer.Exit(2)
    try:
        created = load_demo_sync(settings)
    except DBAPIError as exc:
        reason = type(exc.orig).__name__
        typer.echo(f"cannot write the demo data ({reason}); run `immoflow db upgrade` first?", err=True)
        raise typer.Exit(1) from exc
    typer.echo("\n".join(f"created {label}" for label in created) or "demo data already present")
    typer.echo(f"demo login: {AGENT_EMAIL} / {AGENT_PASSWORD}")


def _register_groups() -> None:
    from starter.cli import admin as cli_admin
    from starter.cli import deploy as cli_deploy
    from starter.cli import history as cli_history
    from starter.cli import inquiry as cli_inquiry
    from starter.cli import properties as cli_properties
    from starter.cli import schedules as cli_schedules
    from starter.cli import sessions as cli_sessions
    from starter.cli import temporal as cli_temporal
    from starter.temporal import codec_server

    app.add_typer(cli_admin.app, name="admin")
    app.add_typer(cli_history.app, name="history")
    app.add_typer(cli_inquiry.app, name="inquiry")
    app.add_typer(cli_temporal.app, name="temporal")
    app.command("codec-server")(codec_server.serve)
    app.add_typer(cli_schedules.app, name="schedules")
    app.add_typer(cli_properties.app, name="properties")
    app.add_typer(cli_deploy.app, name="deploy")
    app.add_typer(cli_sessions.app, name="sessions")


def main() -> None:
    _register_groups()
    exit_cleanly(app)
