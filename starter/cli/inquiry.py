"""`immoflow inquiry …`: hand an inquiry to the running web app, exactly as a portal would.

The CLI talks HTTP instead of writing to the database, so the same intake (raw storage, quarantine,
duplicate check, workflow start) runs for a test inquiry as for a real one.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import aiosmtplib
import httpx
import typer

from settings import get_settings

app = typer.Typer(help="Portal inquiries: submit one or import an OpenImmo-Feedback file.", no_args_is_help=True)

DEMO_MAILBOX = "anfragen@immoflow.local"
DEMO_PROPERTY = "W-1001"
DEMO_SOURCE = "immobilienscout24"
DEMO_PROSPECTS = (
    ("Frau", "Julia", "Schneider"),
    ("Herr", "Lukas", "Becker"),
    ("Frau", "Sophie", "Wagner"),
    ("Herr", "Jonas", "Hoffmann"),
    ("Frau", "Lea", "Schäfer"),
)
DEMO_MESSAGE = (
    "Guten Tag,\n\nich interessiere mich für die Wohnung und würde sie gern besichtigen. "
    "Ich bin berufstätig und habe keine Haustiere. Passt Ihnen ein Termin in dieser Woche?\n\nMit freundlichen Grüßen"
)
TIMEOUT_SECONDS = 15.0

UrlOption = Annotated[str | None, typer.Option("--url", help="Web app base URL (default IMMOFLOW_PUBLIC_BASE_URL).")]


@app.command()
def submit(
    demo: Annotated[bool, typer.Option("--demo", help="A realistic inquiry for W-1001 from a new prospect.")] = False,
    source: Annotated[str | None, typer.Option(help="Portal, e.g. immobilienscout24.")] = None,
    external_id: Annotated[str | None, typer.Option(help="The portal's message ID.")] = None,
    email: Annotated[str | None, typer.Option(help="The prospect's email address.")] = None,
    property_ref: Annotated[str | None, typer.Option("--property", help="Property number, e.g. W-1001.")] = None,
    mailbox: Annotated[str | None, typer.Option(help="Receiving mailbox.")] = None,
    salutation: Annotated[str | None, typer.Option(help="Herr, Frau, …")] = None,
    first_name: Annotated[str | None, typer.Option()] = None,
    last_name: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    mobile: Annotated[str | None, typer.Option()] = None,
    street: Annotated[str | None, typer.Option()] = None,
    zip_code: Annotated[str | None, typer.Option("--zip", help="Postal code.")] = None,
    city: Annotated[str | None, typer.Option()] = None,
    message: Annotated[str | None, typer.Option(help="The prospect's message.")] = None,
    received_at: Annotated[str | None, typer.Option(help="2011-11-11T14:30 or 11.11.2011 14:30; default now.")] = None,
    via_mail: Annotated[
        bool, typer.Option("--via-mail", help="Send it as a portal mail to the mailbox over SMTP instead (issue 15).")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Submit one inquiry as JSON (POST /api/inquiries)."""
    given = {
        "source": source,
        "external_id": external_id,
        "email": email,
        "property_ref": property_ref,
        "mailbox": mailbox,
        "salutation": salutation,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "mobile": mobile,
        "street": street,
        "zip_code": zip_code,
        "city": city,
        "message": message,
        "received_at": received_at,
    }
    payload = {**demo_inquiry(), **_present(given)} if demo else _present(given)
    if not demo:
        missing = [f"--{name.replace('_', '-')}" for name in ("source", "external_id", "email") if not given[name]]
        if missing:
            raise typer.BadParameter(f"{', '.join(missing)} required (or use --demo)")
    if via_mail:
        _mail(payload)
        return
    _report(_post(url, "/api/inquiries", json=payload))


def _mail(payload: dict[str, Any]) -> None:
    import asyncio

    from settings import get_settings
    from starter.dev.demo_mail import portal_mail, send

    payload.setdefault("mailbox", DEMO_MAILBOX)
    mail = portal_mail(payload, now=datetime.now(UTC))
    try:
        asyncio.run(send(get_settings(), mail))
    except (OSError, aiosmtplib.SMTPException) as exc:
        _fail(f"could not send the portal mail over SMTP: {exc}")
    typer.echo(f"portal mail {mail['Message-ID']} sent to {payload['mailbox']}; the mailbox watcher takes it from here")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="OpenImmo-Feedback XML.")],
    mailbox: Annotated[str | None, typer.Option(help="The mailbox the document arrived in.")] = DEMO_MAILBOX,
    source: Annotated[str | None, typer.Option(help="Portal; default: the document's <sender><name>.")] = None,
    url: UrlOption = None,
) -> None:
    """Import an OpenImmo-Feedback XML file (POST /api/inquiries/openimmo)."""
    params = _present({"mailbox": mailbox, "source": source})
    response = _post(
        url,
        "/api/inquiries/openimmo",
        content=file.read_bytes(),
        params=params,
        headers={"Content-Type": "application/xml"},
    )
    _report(response)


def demo_inquiry() -> dict[str, Any]:
    """A new prospect each time (fresh external ID, unknown address), so the whole confirmation flow runs."""
    token = uuid.uuid4().hex[:10]
    salutation, first_name, last_name = random.choice(DEMO_PROSPECTS)
    return {
        "source": DEMO_SOURCE,
        "external_id": f"demo-{token}",
        "mailbox": DEMO_MAILBOX,
        "property_ref": DEMO_PROPERTY,
        "salutation": salutation,
        "first_name": first_name,
        "last_name": last_name,
        "email": f"interessent+{token}@example.com",
        "phone": "030 1234567",
        "message": f"{DEMO_MESSAGE}\n{first_name} {last_name}",
        "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _present(values: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


def _post(url: str | None, path: str, **kwargs: Any) -> httpx.Response:
    settings = get_settings()
    base = (url or settings.public_base_url).rstrip("/")
    # A web app with IMMOFLOW_INTAKE_TOKEN set wants it (or the API token) like from any portal.
    token = settings.intake_token or settings.api_token
    if token is not None:
        kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token.get_secret_value()}"}
    try:
        return httpx.post(base + path, timeout=TIMEOUT_SECONDS, **kwargs)
    except httpx.ConnectError:
        _fail(f"The web app is not reachable at {base}. Start it with `immoflow web` (or `make run`), or pass --url.")
    except httpx.TimeoutException:
        _fail(f"The web app at {base} did not answer within {TIMEOUT_SECONDS:.0f} s.")
    except httpx.HTTPError as exc:
        _fail(f"Could not reach the web app at {base}: {exc}")


def _report(response: httpx.Response) -> None:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        _fail(f"Unexpected answer {response.status_code} from {response.request.url}: {response.text[:300]}")
    if response.is_success:
        kind = "already known, nothing new started" if body.get("duplicate") else "new"
        typer.echo(f"Inquiry #{body['id']} ({kind}): status {body['status']}")
        typer.echo(f"  workflow: {body['workflow_id']}")
        if body.get("workflow_started") is None and not body.get("duplicate"):
            typer.echo("  workflow start deferred: Temporal unreachable, the dispatcher will start it")
        # The office page, not the JSON API: a browser opens it with the agent's login (the API answers 401).
        page = response.request.url.copy_with(path=f"/dashboard/inquiries/{body['id']}", query=None, fragment=None)
        typer.echo(f"  open:     {page}")
        return
    detail = body.get("detail", response.text[:300])
    quarantine = f" (quarantine #{body['quarantine_id']})" if body.get("quarantine_id") else ""
    _fail(f"Refused with {response.status_code}{quarantine}: {detail}")


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(1)
