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

Session-authorised unsafe requests must carry the CSRF token (see web.security.csrf). Handlers read the
user with `CurrentUserDep` (None when a bearer token authorised the request).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
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
from web.security import sessions as web_sessions
from web.security.csrf import BodyTooLargeError, rotate_csrf_token, submitted_token, token_matches
from web.texts import t

SESSION_COOKIE = "immoflow_session"
# The cookie holds the server-side session's token under this key (see web.security.sessions).
SESSION_TOKEN_KEY = "sid"

PUBLIC_PREFIXES = (
    "/confirm/", "/slots/", "/set-password/", "/static/", "/dev/", "/unsubscribe/", "/consent/", "/media/",
)  # fmt: skip
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/favicon.ico", "/impressum", "/datenschutz"})
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
    role: str = "agent"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def start_session(request: Request, user: User) -> None:
    """A new server-side session for USER (any older one of this browser ends): the cookie gets its token."""
    services = request.app.state.services
    previous = request.session.get(SESSION_TOKEN_KEY)
    if isinstance(previous, str):
        await web_sessions.end_session(services.sessions, previous)
    token = await web_sessions.create_session(
        services.sessions,
        user,
        web_sessions.Lifetimes.from_settings(services.settings),
        client=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    session = request.session
    session.clear()
    session[SESSION_TOKEN_KEY] = token
    rotate_csrf_token(request)


async def end_session(request: Request) -> None:
    token = request.session.get(SESSION_TOKEN_KEY)
    if isinstance(token, str):
        await web_sessions.end_session(request.app.state.services.sessions, token)
    request.session.clear()
    rotate_csrf_token(request)


def session_token(request: Request) -> str | None:
    """The token of this browser's server-side session (for the sessions page), if logged in."""
    token = request.session.get(SESSION_TOKEN_KEY) if "session" in request.scope else None
    return token if isinstance(token, str) else None


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


# Renders a human page for a refused form post (the page layout lives with the templates, above this module).
ProblemPage = Callable[[Request, str, str, int], Response]


class AuthMiddleware:
    """Pure ASGI: it must run before FastAPI reads (and possibly rejects) a body, and stream bodies through."""

    def __init__(self, app: ASGIApp, settings: Settings, problem_page: ProblemPage) -> None:
        self.app = app
        self.settings = settings
        self.problem_page = problem_page

    def _csrf_failed(self, scope: Scope, receive: Receive) -> Response:
        if scope["path"].startswith("/api/"):
            return JSONResponse({"detail": t("csrf.api")}, status_code=403)
        return self.problem_page(Request(scope, receive), t("csrf.title"), t("csrf.message"), 403)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        access = classify(method, path)
        if access is Access.PUBLIC:
            if path.startswith("/dev/") and method == "GET":
                # The dev pages sit in the office menu: the header shows who is signed in (none is required).
                scope.setdefault("state", {})["user"] = await self._session_user(scope)
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
                await self._csrf_failed(scope, receive)(scope, receive, send)
                return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    async def _session_user(self, scope: Scope) -> CurrentUser | None:
        session: dict[str, Any] | None = scope.get("session")
        token = session.get(SESSION_TOKEN_KEY) if session is not None else None
        if session is None or not isinstance(token, str):
            return None
        services = scope["app"].state.services
        lifetimes = web_sessions.Lifetimes.from_settings(services.settings)
        found = await web_sessions.resolve_session(services.sessions, token, lifetimes)
        if found is None:  # logged out, expired, idle, or the user changed: an anonymous visitor now
            session.clear()
            return None
        _, user = found
        return CurrentUser(id=user.id, email=user.email, name=user.name, role=user.role)


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


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` or `//evil.example` must not redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def install_auth(app: FastAPI, settings: Settings, problem_page: ProblemPage) -> None:
    """Session outside, auth inside: the auth middleware reads the session the outer one decoded."""
    app.add_middleware(AuthMiddleware, settings=settings, problem_page=problem_page)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.effective_secret_key(),
        session_cookie=SESSION_COOKIE,
        # The server ends sessions (idle and absolute limits); the cookie only has to outlive the longest.
        max_age=settings.session_absolute_hours * 60 * 60,
        same_site="lax",
        https_only=settings.public_base_url.startswith("https://"),
    )
