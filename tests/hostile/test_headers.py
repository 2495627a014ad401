"""Issue 17.5: security headers on every response, a CSP without unsafe-inline, no-store on personal data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from db.session import SessionFactory
from settings import Settings
from tests.hostile.security_support import EMAIL, PASSWORD, office_user, production, served
from tests.http import login
from web.templating import STATIC_DIR

pytestmark = pytest.mark.one_backend

TEMPLATES = Path(STATIC_DIR).parent / "templates"
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)


async def test_every_page_carries_the_security_headers(settings: Settings, sessions: SessionFactory) -> None:
    await office_user(sessions)
    async with served(settings) as (http, _):
        anonymous = [await http.get(path) for path in ("/login", "/confirm/x", "/slots/x", "/api/inquiries")]
        await login(http, EMAIL, PASSWORD)
        office = [await http.get(path) for path in ("/dashboard", "/settings/templates", "/account/sessions")]
        static = await http.get("/static/app.css")
    for response in anonymous + office + [static]:
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers  # http base URL: HSTS would be a lie
    for response in anonymous + office:
        assert response.headers["cache-control"] == "no-store", response.url
    assert static.headers.get("cache-control") != "no-store"


async def test_https_adds_hsts(settings: Settings) -> None:
    async with served(production(settings)) as (http, _):
        response = await http.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template: Path) -> None:
    """What the CSP would block in a browser: put scripts and styles in /static instead."""
    found = INLINE.findall(template.read_text())
    assert not found, f"{template.relative_to(TEMPLATES)}: {found}"
