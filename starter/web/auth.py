"""Who may call what: office staff log in (session cookie), scripts send a bearer token, prospects use links.

One middleware decides for every request, before any handler or body parsing runs:

- PUBLIC_PREFIXES / PUBLIC_PATHS: prospect pages (their links carry signed tokens), health, metrics,
  static files, property pictures (/media/: prospect pages and exposé mails show them), development
  tools. No check at all. A new prospect-facing page adds its prefix here.
- LOGIN_PATHS: /login and /logout, open to everyone but CSRF-checked.
- INTAKE (POST /api/inquiries, /api/inquiries/openimmo): open, unless IMMOFLOW_INTAKE_TOKEN is set; then
  `Authorization: Bearer <intake token>` (or the API token) is required. Portals have no sessions.
- everything else is the office: a logged-in session or `Authorization: Bearer <IMMOFLOW_API_TOKEN>`.
  Unauthenticated /api/… gets 401 JSON; a page redirects to /login?next=….

Session-authorised unsafe requests must carry the CSRF token (see starter.web.csrf). Handlers read the
user with `CurrentUserDep` (None when a bearer token authorised the request).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from db.models import User
from settings import Settings
from starter.web.csrf import BodyTooLargeError, rotate_csrf_token, submitted_token, token_matches
from starter.web.texts import t

SESSION_COOKIE = "immoflow_session"
# An office day plus a margin; every request of an active user renews it (see SEEN_REFRESH_SECONDS).
SESSION_MAX_AGE_SECONDS = 12 * 60 * 60
SEEN_REFRESH_SECONDS = 10 * 60

PUBLIC_PREFIXES = ("/confirm/", "/slots/", "/static/", "/dev/", "/media/")
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/favicon.ico"})
LOGIN_PATHS = frozenset({"/login", "/logout"})
INTAKE_PATHS = frozenset({"/api/inquiries", "/api/inquiries/openimmo"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Access(Enum):
    PUBLIC = "public"
    LOGIN = "login"
    INTAKE = "intake"
    OFFICE = "office"


def classify(method: str, path: str) -> Access:
    if path in PUBLIC_PATHS or any(path.startswith(p) or path == p.rstrip("/") for p in PUBLIC_PREFIXES):
        return Access.PUBLIC
    if path in LOGIN_PATHS:
        return Access.LOGIN
    if method == "POST" and path.rstrip("/") in INTAKE_PATHS:
        return Access.INTAKE
    return Access.OFFICE


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str
    name: str


def _fingerprint(password_hash: str | None) -> str:
    """Part of the session: a changed password (or a removed login) ends every session made before it."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def start_session(request: Request, user: User) -> None:
    session = request.session
    session.clear()
    session.update(uid=user.id, auth=_fingerprint(user.password_hash), seen=int(time.time()))
    rotate_csrf_token(request)


def end_session(request: Request) -> None:
    request.session.clear()
    rotate_csrf_token(request)


def current_user(request: Request) -> CurrentUser | None:
    user: CurrentUser | None = getattr(request.state, "user", None)
    return user


CurrentUserDep = Annotated[CurrentUser | None, Depends(current_user)]


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _matches(token: str | None, *secrets: Any) -> bool:
    if token is None:
        return False
    return any(s is not None and hmac.compare_digest(token.encode(), s.get_secret_value().encode()) for s in secrets)


class AuthMiddleware:
    """Pure ASGI: it must run before FastAPI reads (and possibly rejects) a body, and stream bodies through."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        access = classify(method, path)
        if access is Access.PUBLIC:
            await self.app(scope, receive, send)
            return
        bearer = _bearer(scope)
        if access is Access.INTAKE:
            intake_token = self.settings.intake_token
            if intake_token is not None and not _matches(bearer, intake_token, self.settings.api_token):
                await _unauthorized(t("auth.intake_required"))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        user: CurrentUser | None = None
        by_token = access is Access.OFFICE and bearer is not None
        if by_token:
            if not _matches(bearer, self.settings.api_token):
                await _unauthorized(t("auth.token_invalid"))(scope, receive, send)
                return
        else:
            user = await self._session_user(scope)
            if user is None and access is Access.OFFICE:
                await _login_required(scope)(scope, receive, send)
                return
        if method in UNSAFE_METHODS and not by_token:
            try:
                token, receive = await submitted_token(scope, receive)
            except BodyTooLargeError:
                await JSONResponse({"detail": t("error.too_large")}, status_code=413)(scope, receive, send)
                return
            if not token_matches(scope.get("session"), token):
                await _csrf_failed(scope, receive)(scope, receive, send)
                return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    async def _session_user(self, scope: Scope) -> CurrentUser | None:
        session: dict[str, Any] | None = scope.get("session")
        uid = session.get("uid") if session is not None else None
        if session is None or not isinstance(uid, int):
            return None
        services = scope["app"].state.services
        async with services.sessions() as db:
            user = await db.get(User, uid)
        if user is None or not user.is_active or session.get("auth") != _fingerprint(user.password_hash):
            session.clear()
            return None
        now = int(time.time())
        if now - int(session.get("seen", 0)) > SEEN_REFRESH_SECONDS:
            session["seen"] = now  # a modified session is written back: the cookie's lifetime starts again
        return CurrentUser(id=user.id, email=user.email, name=user.name)


def _unauthorized(detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _login_required(scope: Scope) -> Response:
    path: str = scope["path"]
    if path.startswith("/api/") or path == "/api":
        return _unauthorized(t("auth.api_required"))
    target = "/login"
    if scope["method"] in ("GET", "HEAD"):
        query = scope.get("query_string", b"").decode("latin-1")
        target += "?next=" + quote(path + (f"?{query}" if query else ""), safe="")
    return RedirectResponse(target, status_code=303)


def _csrf_failed(scope: Scope, receive: Receive) -> Response:
    if scope["path"].startswith("/api/"):
        return JSONResponse({"detail": t("csrf.api")}, status_code=403)
    from starter.web.templating import templates  # the template environment imports this module

    request = Request(scope, receive)
    context = {"title": t("csrf.title"), "message": t("csrf.message")}
    return templates.TemplateResponse(request, "office/problem.html", context, status_code=403)


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` or `//evil.example` must not redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def install_auth(app: FastAPI, settings: Settings) -> None:
    """Session outside, auth inside: the auth middleware reads the session the outer one decoded."""
    app.add_middleware(AuthMiddleware, settings=settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.effective_secret_key(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_SECONDS,
        same_site="lax",
        https_only=settings.public_base_url.startswith("https://"),
    )
