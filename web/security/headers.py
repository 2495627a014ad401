"""Security headers on every response, in one place.

- Content-Security-Policy without 'unsafe-inline': pages load scripts and styles only from /static (no
  inline <script>, <style>, style= or on…= attributes in templates; put them in static files);
  `frame-ancestors 'none'` and X-Frame-Options: nobody may frame an office form (clickjacking).
- nosniff, Referrer-Policy no-referrer (prospect links carry their token in the path), COOP.
- HSTS when the public base URL is https.
- Cache-Control: no-store on everything but /static: pages and API answers carry personal data, and a
  shared computer's browser cache or a proxy must not keep them. A handler that sets its own wins.
- A mail's HTML part (`…/html` routes, shown in a sandboxed iframe) gets MAIL_FRAME_HEADERS instead.
- The interactive API docs (/docs, /redoc; behind the login) load FastAPI's Swagger/ReDoc bundles from
  their CDN with an inline bootstrap script: they get their own, looser policy.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
HSTS = "max-age=31536000; includeSubDomains"
# A mail's HTML part, shown in a sandboxed frame of the office's own pages: it may style itself inline (mail
# HTML can do nothing else) but run nothing, load nothing but images, and be framed only by this site.
MAIL_FRAME_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; "
    "font-src data:; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = settings.public_base_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", DOCS_CSP if path in DOCS_PATHS else CSP)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
