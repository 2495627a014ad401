"""/dev/mail: lists and shows what the SMTP sink caught, escapes it, and does not exist in production."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import create_engine, make_session_factory
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from starter.services.context import Services
from web.pages import dev_mail
from web.templating import STATIC_DIR

MakeClient = Callable[[Settings], Awaitable[httpx.AsyncClient]]


def _settings(data_dir: Path, env: str = "development") -> Settings:
    return Settings(env=env, data_dir=data_dir, secret_key="test", database_url=f"sqlite:///{data_dir / 'x.db'}")


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Builds an app with just this router (and /static) around SETTINGS; the database is never touched."""
    engines: list[AsyncEngine] = []

    async def make(settings: Settings) -> httpx.AsyncClient:
        engine = create_engine(settings.effective_database_url)
        engines.append(engine)
        app = FastAPI()
        app.state.services = Services(settings=settings, engine=engine, sessions=make_session_factory(engine))
        app.include_router(dev_mail.router)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    yield make
    for engine in engines:
        await engine.dispose()


async def _send(port: int, subject: str, *, html: str | None = None, attachment: bytes | None = None) -> None:
    message = EmailMessage()
    message["From"] = "Anna Agent <agent@immoflow.local>"
    message["To"] = "Bernd Bekannt <bekannt@example.com>"
    message["Subject"] = subject
    message.set_content("Guten Tag,\nIhr Link: http://localhost:8000/confirm/abc\n<b>kein HTML</b>")
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename="Expose-W-1001.pdf")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port)


async def test_empty_mailbox(tmp_path: Path, make_client: MakeClient) -> None:
    async with await make_client(_settings(tmp_path)) as client:
        response = await client.get("/dev/mail")
    assert response.status_code == 200
    assert "Noch keine Mails" in response.text


async def test_list_newest_first_and_escaped(tmp_path: Path, make_client: MakeClient) -> None:
    with SmtpSink(directory=tmp_path / "mail") as sink:
        await _send(sink.port, "Erste Mail")
        await _send(sink.port, "Zweite <script>alert(1)</script>")

    async with await make_client(_settings(tmp_path)) as client:
        response = await client.get("/dev/mail")

    assert response.status_code == 200
    page = response.text
    assert page.index("Zweite") < page.index("Erste Mail")  # newest first
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "bekannt@example.com" in page and "agent@immoflow.local" in page
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", page)  # German date and time


async def test_detail_shows_headers_text_sandboxed_html_and_attachments(
    tmp_path: Path, make_client: MakeClient
) -> None:
    html = '<p>Hallo <strong>Bernd</strong></p><script>steal()</script><a href="http://x" onclick="y()">Link</a>'
    with SmtpSink(directory=tmp_path / "mail") as sink:
        await _send(sink.port, "Ihr Exposé W-1001", html=html, attachment=b"%PDF-1.4 demo")
    [name] = [path.name for path in (tmp_path / "mail").glob("*.eml")]

    async with await make_client(_settings(tmp_path)) as client:
        listing = await client.get("/dev/mail")
        detail = await client.get(f"/dev/mail/{name}")
        raw = await client.get(f"/dev/mail/{name}/raw")
        frame = await client.get(f"/dev/mail/{name}/html")

    assert f'href="/dev/mail/{name}"' in listing.text
    assert detail.status_code == 200
    page = detail.text
    assert "Ihr Exposé W-1001" in page
    assert "Bernd Bekannt &lt;bekannt@example.com&gt;" in page  # headers, escaped
    # Links in the text part are links, as a mail client shows them.
    assert 'Ihr Link: <a href="http://localhost:8000/confirm/abc"' in page
    assert "&lt;b&gt;kein HTML&lt;/b&gt;" in page  # the text part stays text
    # The HTML part appears escaped on the page (as source) and raw only in a sandboxed frame whose own
    # policy forbids scripts: `sandbox` without allow-scripts, default-src 'none'.
    assert "<script>steal()</script>" not in page
    iframe = re.search(r"<iframe[^>]*>", page)
    assert iframe is not None
    assert 'sandbox=""' in iframe.group(0) and f'src="/dev/mail/{name}/html"' in iframe.group(0)
    policy = frame.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "script" not in policy
    assert "Expose-W-1001.pdf" in page and "application/pdf" in page
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("text/plain")
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert "Subject:" in raw.text


@pytest.mark.parametrize(
    "path",
    ["/dev/mail/does-not-exist.eml", "/dev/mail/..%2Fsecret_key", "/dev/mail/.hidden.eml", "/dev/mail/x.txt"],
)
async def test_unknown_or_foreign_files_are_404(tmp_path: Path, make_client: MakeClient, path: str) -> None:
    (tmp_path / "mail").mkdir()
    (tmp_path / "secret_key").write_text("do not serve")
    (tmp_path / "mail" / ".hidden.eml").write_text("Subject: hidden\n\nx")
    (tmp_path / "mail" / "x.txt").write_text("x")
    async with await make_client(_settings(tmp_path)) as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert "do not serve" not in response.text


async def test_production_has_no_dev_mail(tmp_path: Path, make_client: MakeClient) -> None:
    with SmtpSink(directory=tmp_path / "mail") as sink:
        await _send(sink.port, "Geheim")
    [name] = [path.name for path in (tmp_path / "mail").glob("*.eml")]

    async with await make_client(_settings(tmp_path, env="production")) as client:
        for path in ("/dev/mail", f"/dev/mail/{name}", f"/dev/mail/{name}/raw"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "Geheim" not in response.text


async def test_layout_and_static_files(tmp_path: Path, make_client: MakeClient) -> None:
    async with await make_client(_settings(tmp_path)) as client:
        page = (await client.get("/dev/mail")).text
        css = await client.get("/static/app.css")
        cover = await client.get("/static/demo/w-1001.jpg")
    assert '<html lang="de">' in page
    assert 'href="/static/app.css"' in page
    assert 'href="/dev/mail" aria-current="page"' in page  # the nav marks where we are
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
    assert 'rel="icon" href="/static/favicon.svg"' in page
