"""`immoflow admin create`: the first admin of a new office (then everyone else is invited in the browser)."""

from __future__ import annotations

import asyncio
import sys

import typer

from settings import get_settings

app = typer.Typer(help="Office users from the command line (the first admin).", no_args_is_help=True)


async def _create(name: str, email: str, password: str) -> int:
    from db.session import engine_from_settings, make_session_factory
    from starter.services.users import create_admin

    engine = engine_from_settings(get_settings())
    try:
        async with make_session_factory(engine).begin() as session:
            user = await create_admin(session, name, email, password)
            return user.id
    finally:
        await engine.dispose()


@app.command("create")
def create(
    email: str = typer.Option(..., "--email", help="Login address of the admin."),
    name: str = typer.Option(..., "--name", help="Name shown in the office, e.g. 'Anna Agent'."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts) instead of prompting."
    ),
) -> None:
    """Create an admin who logs in with EMAIL and a password typed here (asked twice, never echoed)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    from starter.services.users import UserError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")
    try:
        user_id = asyncio.run(_create(name, email, password))
    except (UserError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        typer.echo(f"nicht angelegt: {reason}", err=True)
        raise typer.Exit(1) from exc
    except DBAPIError as exc:
        typer.echo(f"cannot write the user ({type(exc.orig).__name__}); run `immoflow db upgrade` first?", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"admin {email} angelegt (Benutzer {user_id}); Anmeldung unter {get_settings().public_base_url}/login")
