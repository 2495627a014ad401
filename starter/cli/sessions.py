"""`immoflow sessions end EMAIL`: log a user out everywhere (a lost laptop, a leaver, a suspicion)."""

from __future__ import annotations

import asyncio

import typer

from settings import get_settings

app = typer.Typer(help="Office sessions (server-side, in the database).", no_args_is_help=True)


@app.command("end")
def end(email: str = typer.Argument(..., help="The user's e-mail address.")) -> None:
    """End every session of the user with EMAIL; their next request goes to the login."""
    from sqlalchemy import func, select

    from db.models import User
    from db.session import engine_from_settings, make_session_factory
    from web.security.sessions import end_user_sessions

    async def run() -> int | None:
        engine = engine_from_settings(get_settings())
        try:
            sessions = make_session_factory(engine)
            async with sessions() as session:
                user_id = await session.scalar(select(User.id).where(func.lower(User.email) == email.strip().lower()))
            return None if user_id is None else await end_user_sessions(sessions, user_id)
        finally:
            await engine.dispose()

    ended = asyncio.run(run())
    if ended is None:
        typer.echo(f"no user with the address {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{ended} session(s) of {email} ended")
